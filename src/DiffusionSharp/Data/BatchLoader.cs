using System.Runtime.InteropServices;
using DiffusionSharp.Conditioning;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Data;

/// <summary>
/// Cuts an <see cref="IDataset"/> into batches in a seeded order. Epoch e's order is a Fisher–Yates shuffle drawn
/// from (seed, e) alone with a PRNG of our own, and a flip decision from (seed, e, position) alone, so the same seed gives
/// the same batches on any machine, and <see cref="Restore"/> resumes mid-epoch exactly. Each batch is converted into
/// one pooled <c>float[]</c> and copied into one tensor; the loader holds no sample data of its own.
/// </summary>
/// <remarks>
/// Samples may have any rank (<c>[C, ...]</c>); a batch is <c>[B, C, ...]</c>. With a <see cref="DataShard"/> the loader
/// returns only its process's rows of every global batch of <see cref="BatchSize"/>: N loaders with the same seed and
/// ranks 0..N-1 return disjoint slices of exactly the batches one loader without a shard returns.
/// </remarks>
public sealed class BatchLoader
{
    private const ulong ShuffleSalt = 0x5348_5546_464C_4531UL;
    private const ulong FlipSalt = 0x464C_4950_464C_4950UL;

    private readonly IDataset _dataset;
    private readonly long[] _sampleShape;
    private readonly int _sampleSize;
    private readonly float[] _imageBuffer;
    private readonly long[] _labelBuffer;
    private int[] _order = [];
    private int _orderEpoch = -1;

    /// <summary>Creates a loader positioned at epoch 0, batch 0.</summary>
    /// <param name="dataset">The samples; must not be empty.</param>
    /// <param name="batchSize">Samples per global batch, ≥ 1.</param>
    /// <param name="seed">Seed of the shuffles and flips.</param>
    /// <param name="shuffle">Shuffle each epoch (false: dataset order).</param>
    /// <param name="dropLast">Drop a last batch smaller than <paramref name="batchSize"/>.</param>
    /// <param name="randomHorizontalFlip">Mirror each sample along its last axis (an image left-right) with probability 1/2 (augmentation).</param>
    /// <param name="shard">This process's part of every batch; null = the whole batch.</param>
    /// <exception cref="InvalidInputException">Batch size out of range, or no batch fits in an epoch.</exception>
    public BatchLoader(IDataset dataset, int batchSize, long seed, bool shuffle = true, bool dropLast = true, bool randomHorizontalFlip = false,
        DataShard? shard = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        shard ??= DataShard.Whole;
        shard.Validate();
        if (dataset.Count <= 0) throw new InvalidInputException("dataset: expected at least 1 image, found 0");
        if (batchSize < 1) throw new InvalidInputException($"batch size: expected ≥ 1, found {batchSize}");
        if (dropLast && batchSize > dataset.Count)
            throw new InvalidInputException(
                $"batch size: expected at most the dataset size {dataset.Count} when the last incomplete batch is dropped, found {batchSize}");
        _sampleShape = dataset.SampleShape.Select(d => (long)d).ToArray();
        _sampleSize = dataset.SampleSize;
        var floats = (long)batchSize * _sampleSize;
        if (floats > Array.MaxLength)
            throw new InvalidInputException($"batch size: {batchSize} samples of {_sampleSize} floats exceed one array; use a smaller batch");

        _dataset = dataset;
        BatchSize = batchSize;
        Seed = seed;
        Shuffle = shuffle;
        DropLast = dropLast;
        RandomHorizontalFlip = randomHorizontalFlip;
        Shard = shard;
        BatchesPerEpoch = dropLast ? dataset.Count / batchSize : (dataset.Count + batchSize - 1) / batchSize;
        _imageBuffer = new float[floats];
        _labelBuffer = new long[batchSize];
    }

    /// <summary>Images per full batch.</summary>
    public int BatchSize { get; }

    /// <summary>Seed of the shuffles and flips.</summary>
    public long Seed { get; }

    /// <summary>Whether each epoch is shuffled.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether a last incomplete batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>Whether samples are mirrored along their last axis at random.</summary>
    public bool RandomHorizontalFlip { get; }

    /// <summary>This process's part of every batch.</summary>
    public DataShard Shard { get; }

    /// <summary>Where the last batch returned by <see cref="Next"/> starts in its global batch, and that batch's rows.</summary>
    public (int Offset, int GlobalRows) LastShard { get; private set; }

    /// <summary>Batches in each epoch.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>Epoch of the next batch, from 0.</summary>
    public int Epoch { get; private set; }

    /// <summary>Index of the next batch within <see cref="Epoch"/>, from 0.</summary>
    public int BatchIndex { get; private set; }

    /// <summary>The current position and settings, for a checkpoint.</summary>
    public BatchLoaderState GetState() =>
        new(Epoch, BatchIndex, Seed, BatchSize, _dataset.Count, Shuffle, DropLast, RandomHorizontalFlip);

    /// <summary>Moves to the position in <paramref name="state"/>; the next batch is the one a loader at that position would return.</summary>
    /// <exception cref="InvalidInputException">The state was made with other settings or another dataset size, or its position is out of range.</exception>
    public void Restore(BatchLoaderState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var mine = GetState() with { Epoch = state.Epoch, BatchIndex = state.BatchIndex };
        if (mine != state)
            throw new InvalidInputException($"loader state: expected settings {Describe(mine)}, found {Describe(state)}");
        if (state.Epoch < 0 || state.BatchIndex < 0 || state.BatchIndex >= BatchesPerEpoch)
            throw new InvalidInputException(
                $"loader state: expected epoch ≥ 0 and batch index in [0, {BatchesPerEpoch}), found epoch {state.Epoch}, batch {state.BatchIndex}");
        Epoch = state.Epoch;
        BatchIndex = state.BatchIndex;
    }

    /// <summary>The order in which epoch <paramref name="epoch"/> visits the dataset: a permutation of <c>0..Count-1</c>.</summary>
    public int[] GetEpochOrder(int epoch) => (int[])OrderFor(epoch).Clone();

    /// <summary>
    /// Returns the next batch (this shard's rows of it) and advances; after the last batch of an epoch the position moves
    /// to the next epoch.
    /// </summary>
    public Batch Next()
    {
        var order = OrderFor(Epoch);
        var globalStart = BatchIndex * BatchSize;
        var globalRows = Math.Min(BatchSize, order.Length - globalStart);
        var (offset, size) = Shard.RowsOf(globalRows);
        LastShard = (offset, globalRows);
        var start = globalStart + offset;
        var indices = order.AsSpan(start, size);
        var samples = _imageBuffer.AsSpan(0, size * _sampleSize);
        var labels = _labelBuffer.AsSpan(0, size);
        _dataset.FillBatch(indices, samples, _dataset.HasLabels ? labels : Span<long>.Empty);
        if (RandomHorizontalFlip) FlipAtRandom(samples, start, size);

        var sampleTensor = ToTensor(samples, [size, .. _sampleShape]);
        Condition condition = _dataset is IConditionedDataset conditioned ? conditioned.ConditionOf(indices)
            : _dataset.HasLabels ? new ClassLabelCondition(ToTensor(labels, [size]), _dataset.NumClasses)
            : Condition.None(size);

        if (++BatchIndex == BatchesPerEpoch)
        {
            Epoch++;
            BatchIndex = 0;
        }
        return new Batch(sampleTensor, condition);
    }

    /// <summary>Yields the remaining batches of the current epoch; afterwards the position is the start of the next epoch.</summary>
    public IEnumerable<Batch> ReadEpoch()
    {
        var epoch = Epoch;
        while (Epoch == epoch) yield return Next();
    }

    private int[] OrderFor(int epoch)
    {
        if (_orderEpoch == epoch) return _order;
        var order = _order.Length == _dataset.Count ? _order : new int[_dataset.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        if (Shuffle)
        {
            var rng = new SplitMix64(SplitMix64.Hash((ulong)Seed, ShuffleSalt, (ulong)epoch));
            for (var i = order.Length - 1; i > 0; i--)
            {
                var j = rng.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        _order = order;
        _orderEpoch = epoch;
        return order;
    }

    private void FlipAtRandom(Span<float> images, int positionInEpoch, int count)
    {
        var width = (int)_sampleShape[^1];
        var imageSize = _sampleSize;
        var epochKey = SplitMix64.Hash((ulong)Seed, FlipSalt, (ulong)Epoch);
        for (var b = 0; b < count; b++)
        {
            if ((SplitMix64.Hash(epochKey, FlipSalt, (ulong)(positionInEpoch + b)) & 1) == 0) continue;
            var image = images.Slice(b * imageSize, imageSize);
            for (var row = 0; row < image.Length; row += width) image.Slice(row, width).Reverse();
        }
    }

    private static Tensor ToTensor<T>(Span<T> data, long[] shape) where T : unmanaged
    {
        var dtype = typeof(T) == typeof(float) ? ScalarType.Float32 : ScalarType.Int64;
        var tensor = torch.empty(shape, dtype);
        MemoryMarshal.AsBytes(data).CopyTo(tensor.bytes);
        return tensor;
    }

    private static string Describe(BatchLoaderState s) =>
        $"(seed {s.Seed}, batch size {s.BatchSize}, dataset size {s.DatasetCount}, shuffle {s.Shuffle}, drop last {s.DropLast}, flip {s.RandomHorizontalFlip})";
}
