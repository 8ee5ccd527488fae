using System.Diagnostics;
using System.Runtime.InteropServices;
using DiffusionSharp.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Trains a <see cref="DigitClassifier"/>: AdamW, cosine learning-rate decay to zero, cross-entropy, and random shifts of
/// up to ±<c>maxShift</c> pixels (background filled) so the classifier, and hence FID-MNIST, is not fooled by a digit
/// drawn slightly off-centre. Deterministic for a seed on a given machine and thread count: the initial weights come from
/// a seeded <see cref="Generator"/>, the order and shifts from a counter-based hash of (seed, epoch, position).
/// </summary>
public static class DigitClassifierTrainer
{
    private const ulong ShuffleSalt = 0x4449_4749_5453_4855UL;
    private const ulong ShiftSalt = 0x4449_4749_5453_4846UL;

    /// <summary>Trains a new classifier on <paramref name="trainIndices"/> of <paramref name="data"/>.</summary>
    /// <param name="data">Labelled 1 x 28 x 28 images in [-1, 1], e.g. <see cref="IdxDataset.Mnist"/>.</param>
    /// <param name="trainIndices">Images to train on (e.g. <see cref="MnistSplit.TrainIndices"/>).</param>
    /// <param name="epochs">Passes over the training images, ≥ 1.</param>
    /// <param name="batchSize">Images per step, ≥ 1; a last incomplete batch is dropped.</param>
    /// <param name="seed">Seed of the initial weights, the order and the shifts.</param>
    /// <param name="heldOutIndices">Images to measure accuracy on after training, or null.</param>
    /// <param name="learningRate">Peak AdamW learning rate (decays along a cosine to 0).</param>
    /// <param name="weightDecay">AdamW decoupled weight decay.</param>
    /// <param name="maxShift">Largest random shift in pixels, in each direction; 0 disables it.</param>
    /// <param name="config">Architecture; default <see cref="DigitClassifierConfig"/>'s defaults.</param>
    /// <param name="progress">Called after each epoch with (epoch from 1, mean loss).</param>
    /// <param name="cancellationToken">Stops between steps with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="InvalidInputException">The data is not labelled 1 x 28 x 28, an index is out of range, or an option is out of range.</exception>
    public static DigitClassifierTrainingResult Train(
        IImageDataset data,
        IReadOnlyList<int> trainIndices,
        int epochs,
        int batchSize,
        long seed,
        IReadOnlyList<int>? heldOutIndices = null,
        double learningRate = 2e-3,
        double weightDecay = 1e-4,
        int maxShift = 2,
        DigitClassifierConfig? config = null,
        Action<int, double>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(trainIndices);
        CheckDigits(data, requireLabels: true);
        if (epochs < 1) throw new InvalidInputException($"epochs: expected ≥ 1, found {epochs}");
        if (batchSize < 1 || batchSize > trainIndices.Count)
            throw new InvalidInputException($"batch size: expected 1 to {trainIndices.Count} (the training images), found {batchSize}");
        if (!(learningRate > 0)) throw new InvalidInputException($"learning rate: expected > 0, found {learningRate}");
        if (maxShift is < 0 or > 8) throw new InvalidInputException($"max shift: expected 0 to 8 pixels, found {maxShift}");
        CheckIndices(data, trainIndices, "training");
        if (heldOutIndices is not null) CheckIndices(data, heldOutIndices, "held-out");

        var clock = Stopwatch.StartNew();
        var (images, labels) = ReadAll(data, trainIndices);
        using var generator = new Generator((ulong)seed);
        var model = new DigitClassifier(config, generator);
        try
        {
            var optimizer = optim.AdamW(model.parameters(), lr: learningRate, weight_decay: weightDecay);
            var imageSize = data.ImageSize;
            var batchImages = new float[batchSize * imageSize];
            var batchLabels = new long[batchSize];
            var stepsPerEpoch = trainIndices.Count / batchSize;
            var totalSteps = epochs * stepsPerEpoch;
            var losses = new List<double>();
            var step = 0;
            model.train();
            for (var epoch = 0; epoch < epochs; epoch++)
            {
                var order = Shuffle(trainIndices.Count, seed, epoch);
                using var lossSum = zeros(1, ScalarType.Float64);
                for (var b = 0; b < stepsPerEpoch; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    for (var i = 0; i < batchSize; i++)
                    {
                        var position = b * batchSize + i;
                        var source = order[position];
                        var (dx, dy) = Shift(seed, epoch, position, maxShift);
                        ShiftInto(images.AsSpan(source * imageSize, imageSize), batchImages.AsSpan(i * imageSize, imageSize), dx, dy);
                        batchLabels[i] = labels[source];
                    }
                    var x = FromBuffer(batchImages, [batchSize, 1, DigitClassifier.ImageSize, DigitClassifier.ImageSize]);
                    var y = tensor(batchLabels);
                    // Cosine decay from the peak to 0 over all steps (Loshchilov & Hutter, SGDR, eq. 5 with one cycle).
                    optimizer.ParamGroups.First().LearningRate = learningRate * 0.5 * (1 + Math.Cos(Math.PI * step / totalSteps));
                    optimizer.zero_grad();
                    var loss = F.cross_entropy(model.call(x), y);
                    loss.backward();
                    optimizer.step();
                    lossSum.add_(loss.detach().to(ScalarType.Float64));
                    step++;
                }
                var mean = lossSum.item<double>() / stepsPerEpoch;
                losses.Add(mean);
                progress?.Invoke(epoch + 1, mean);
            }
            model.eval();
            double? accuracy = heldOutIndices is null ? null : Accuracy(model, data, heldOutIndices);
            return new DigitClassifierTrainingResult(model, losses, accuracy, step, clock.Elapsed);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Fraction of the images at <paramref name="indices"/> whose most likely class is their label.</summary>
    /// <exception cref="InvalidInputException">The data is not labelled 1 x 28 x 28 or an index is out of range.</exception>
    public static double Accuracy(DigitClassifier model, IImageDataset data, IReadOnlyList<int> indices, int batchSize = 500)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        CheckDigits(data, requireLabels: true);
        CheckIndices(data, indices, "evaluation");
        if (indices.Count == 0) throw new InvalidInputException("evaluation indices: expected at least one image, found none");
        var (images, labels) = ReadAll(data, indices);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = FromBuffer(images, [indices.Count, 1, DigitClassifier.ImageSize, DigitClassifier.ImageSize]);
        var predicted = x.split(batchSize).Select(chunk => model.Logits(chunk).argmax(1)).ToList();
        var correct = cat(predicted, 0).eq(tensor(labels)).sum().item<long>();
        return (double)correct / indices.Count;
    }

    /// <summary>The images at <paramref name="indices"/> as one float32 tensor <c>[N, C, H, W]</c> in [-1, 1].</summary>
    public static Tensor ReadImages(IImageDataset data, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckIndices(data, indices, "image");
        var (images, _) = ReadAll(data, indices);
        return FromBuffer(images, [indices.Count, data.Channels, data.Height, data.Width]);
    }

    internal static void CheckDigits(IImageDataset data, bool requireLabels)
    {
        if (data.Channels != 1 || data.Height != DigitClassifier.ImageSize || data.Width != DigitClassifier.ImageSize)
            throw new InvalidInputException(
                $"dataset: expected 1 x {DigitClassifier.ImageSize} x {DigitClassifier.ImageSize} digits, found {data.Channels} x {data.Height} x {data.Width}");
        if (requireLabels && !data.HasLabels) throw new InvalidInputException("dataset: expected class labels, found none");
    }

    private static void CheckIndices(IImageDataset data, IReadOnlyList<int> indices, string what)
    {
        ArgumentNullException.ThrowIfNull(indices);
        foreach (var i in indices)
        {
            if ((uint)i >= (uint)data.Count)
                throw new InvalidInputException($"{what} indices: {i} is outside the dataset's [0, {data.Count})");
        }
    }

    private static (float[] Images, long[] Labels) ReadAll(IImageDataset data, IReadOnlyList<int> indices)
    {
        var images = new float[(long)indices.Count * data.ImageSize];
        var labels = new long[indices.Count];
        data.FillBatch(indices.ToArray(), images, data.HasLabels ? labels : Span<long>.Empty);
        return (images, labels);
    }

    private static Tensor FromBuffer(float[] values, long[] shape)
    {
        var t = empty(shape, ScalarType.Float32);
        MemoryMarshal.AsBytes(values.AsSpan(0, (int)shape.Aggregate(1L, (a, b) => a * b))).CopyTo(t.bytes);
        return t;
    }

    private static int[] Shuffle(int count, long seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        var rng = new SplitMix64(SplitMix64.Hash((ulong)seed, ShuffleSalt, (ulong)epoch));
        for (var i = count - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static (int Dx, int Dy) Shift(long seed, int epoch, int position, int maxShift)
    {
        if (maxShift == 0) return (0, 0);
        var rng = new SplitMix64(SplitMix64.Hash((ulong)seed, ShiftSalt, ((ulong)epoch << 32) | (uint)position));
        return (rng.NextInt(2 * maxShift + 1) - maxShift, rng.NextInt(2 * maxShift + 1) - maxShift);
    }

    /// <summary>Copies a 28 x 28 image moved right by dx and down by dy; uncovered pixels become background (-1).</summary>
    private static void ShiftInto(ReadOnlySpan<float> source, Span<float> destination, int dx, int dy)
    {
        const int side = DigitClassifier.ImageSize;
        destination.Fill(-1f);
        for (var y = Math.Max(0, dy); y < Math.Min(side, side + dy); y++)
        {
            var x0 = Math.Max(0, dx);
            var x1 = Math.Min(side, side + dx);
            source.Slice((y - dy) * side + x0 - dx, x1 - x0).CopyTo(destination.Slice(y * side + x0, x1 - x0));
        }
    }
}
