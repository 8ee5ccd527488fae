using System.Diagnostics;
using System.Runtime.InteropServices;
using DiffusionSharp.Data;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Trains a <see cref="SpokenDigitClassifier"/> on <c>[1, L]</c> clips split by <see cref="StratifiedSplit"/> (for the
/// bundled spoken digits, 20 % = 40 clips of each digit held out): AdamW, cosine decay to 0, cross-entropy, with random
/// gain, time shift and white noise on the waveforms (<see cref="SpokenDigitTrainingOptions"/>). Measures accuracy,
/// extracts features, and calibrates the Fréchet distance on them. Deterministic for a seed on a given machine and
/// thread count: initial weights and noise from seeded generators, order, shifts and gains from a counter-based hash.
/// </summary>
public static class SpokenDigitTrainer
{
    private const ulong ShuffleSalt = 0x5350_4B4E_5348_5546UL;
    private const ulong AugmentSalt = 0x5350_4B4E_4155_474DUL;
    private const ulong NoiseSalt = 0x5350_4B4E_4E4F_4953UL;

    /// <summary>The clips of <paramref name="data"/> (sample shape <c>[1, L]</c>) at <paramref name="indices"/> as <c>[N, 1, L]</c> float32, and their labels (zeros when unlabelled).</summary>
    /// <exception cref="InvalidInputException">The samples are not mono 1-D clips.</exception>
    public static (Tensor Clips, long[] Labels) Read(IDataset data, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(indices);
        var length = ClipLength(data);
        var values = new float[(long)indices.Count * length];
        var labels = new long[indices.Count];
        data.FillBatch(indices.ToArray(), values, data.NumClasses > 0 ? labels : Span<long>.Empty);
        var t = empty([indices.Count, 1, length], ScalarType.Float32);
        MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(t.bytes);
        return (t, labels);
    }

    /// <summary>Every label of <paramref name="data"/>, in order (what <see cref="StratifiedSplit.Create"/> takes).</summary>
    /// <exception cref="InvalidInputException">The data has no labels.</exception>
    public static long[] Labels(IDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.NumClasses == 0) throw new InvalidInputException("dataset: expected class labels, found none (metadata.jsonl needs a label column)");
        var labels = new long[data.Count];
        data.FillBatch(Enumerable.Range(0, data.Count).ToArray(), new float[(long)data.Count * ClipLength(data)], labels);
        return labels;
    }

    /// <summary>Trains a new classifier on <paramref name="split"/>'s training clips and measures its accuracy on the held-out ones.</summary>
    /// <param name="data">Labelled mono clips <c>[1, L]</c> in [-1, 1] (e.g. the bundled spoken digits).</param>
    /// <param name="split">Which clips to train on and which to hold out.</param>
    /// <param name="options">Recipe and seed; null = the defaults.</param>
    /// <param name="config">Architecture; null = the defaults with the data's length and classes at <paramref name="sampleRate"/>.</param>
    /// <param name="sampleRate">The clips' rate in Hz, for the default config.</param>
    /// <param name="progress">Called after each epoch with (epoch from 1, mean loss).</param>
    /// <param name="cancellationToken">Stops between steps with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="InvalidInputException">Unlabelled data, a config that does not fit it, or an option out of range.</exception>
    public static SpokenDigitTrainingResult Train(
        IDataset data, StratifiedSplit split, SpokenDigitTrainingOptions? options = null, SpokenDigitClassifierConfig? config = null,
        int sampleRate = 8000, Action<int, double>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(split);
        options ??= new SpokenDigitTrainingOptions();
        options.Validate();
        if (data.NumClasses == 0) throw new InvalidInputException("dataset: expected class labels, found none (metadata.jsonl needs a label column)");
        var length = ClipLength(data);
        config ??= new SpokenDigitClassifierConfig(SampleRate: sampleRate, Length: length, NumClasses: data.NumClasses);
        if (config.Length != length || config.NumClasses != data.NumClasses)
            throw new InvalidInputException($"config: length {config.Length} and num_classes {config.NumClasses} do not fit the data's {length} samples and {data.NumClasses} classes");
        if (options.BatchSize > split.Train.Count)
            throw InvalidInputException.For<SpokenDigitTrainingOptions>(nameof(options.BatchSize), $" must be at most the {split.Train.Count} training clips (got {options.BatchSize})");

        var clock = Stopwatch.StartNew();
        var clips = new float[(long)split.Train.Count * length];
        var labels = new long[split.Train.Count];
        data.FillBatch(split.Train.ToArray(), clips, labels);
        using var initGenerator = new TorchSharp.torch.Generator((ulong)options.Seed);
        using var noiseGenerator = new TorchSharp.torch.Generator(SplitMix64.Hash((ulong)options.Seed, NoiseSalt, 0));
        var model = new SpokenDigitClassifier(config, data.ClassNames, initGenerator);
        try
        {
            using var optimizer = optim.AdamW(model.parameters(), lr: options.LearningRate, weight_decay: options.WeightDecay);
            var batchSize = options.BatchSize;
            var stepsPerEpoch = split.Train.Count / batchSize;
            var totalSteps = options.Epochs * stepsPerEpoch;
            var batch = new float[batchSize * length];
            var batchLabels = new long[batchSize];
            var noiseStd = new float[batchSize];
            var losses = new List<double>();
            var step = 0;
            model.train();
            for (var epoch = 0; epoch < options.Epochs; epoch++)
            {
                var order = Shuffle(split.Train.Count, options.Seed, epoch);
                var lossSum = 0.0;
                for (var b = 0; b < stepsPerEpoch; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    for (var i = 0; i < batchSize; i++)
                    {
                        var position = b * batchSize + i;
                        var source = order[position];
                        var rng = new SplitMix64(SplitMix64.Hash((ulong)options.Seed, AugmentSalt, ((ulong)epoch << 32) | (uint)position));
                        var shift = options.MaxShift == 0 ? 0 : rng.NextInt(2 * options.MaxShift + 1) - options.MaxShift;
                        var gain = (float)(options.MinGain + (1 - options.MinGain) * Uniform(ref rng));
                        noiseStd[i] = (float)(options.MaxNoise * Uniform(ref rng));
                        ShiftInto(clips.AsSpan(source * length, length), batch.AsSpan(i * length, length), shift, gain);
                        batchLabels[i] = labels[source];
                    }
                    using var scope = NewDisposeScope();
                    var x = tensor(batch, [batchSize, 1, length]);
                    if (options.MaxNoise > 0)
                        x = x + randn([batchSize, 1, length], generator: noiseGenerator) * tensor(noiseStd, [batchSize, 1, 1]);
                    var y = tensor(batchLabels);
                    optimizer.ParamGroups.First().LearningRate = options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / totalSteps));
                    optimizer.zero_grad();
                    var loss = F.cross_entropy(model.call(x), y);
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>();
                    step++;
                }
                losses.Add(lossSum / stepsPerEpoch);
                progress?.Invoke(epoch + 1, lossSum / stepsPerEpoch);
            }
            model.eval();
            var accuracy = Accuracy(model, data, split.HeldOut);
            return new SpokenDigitTrainingResult(model, losses, accuracy, step, clock.Elapsed);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Predicted class of each clip <c>[N, 1, L]</c> (in batches, without gradients).</summary>
    public static long[] Predict(SpokenDigitClassifier model, Tensor clips, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(clips);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return cat(clips.split(batchSize).Select(model.Logits).ToList(), 0).argmax(1).data<long>().ToArray();
    }

    /// <summary>Fraction of the clips at <paramref name="indices"/> classified as their label.</summary>
    /// <exception cref="InvalidInputException">No indices.</exception>
    public static double Accuracy(SpokenDigitClassifier model, IDataset data, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (indices.Count == 0) throw new InvalidInputException("evaluation indices: expected at least one clip, found none");
        var (clips, labels) = Read(data, indices);
        using (clips) return Accuracy(Predict(model, clips), labels);
    }

    /// <summary>Fraction of <paramref name="predicted"/> equal to <paramref name="truth"/>.</summary>
    public static double Accuracy(IReadOnlyList<long> predicted, IReadOnlyList<long> truth)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(truth);
        if (predicted.Count != truth.Count || truth.Count == 0) throw new ArgumentException($"expected two equal non-empty lists, found {predicted.Count} and {truth.Count}", nameof(truth));
        return (double)predicted.Zip(truth).Count(p => p.First == p.Second) / truth.Count;
    }

    /// <summary>Penultimate features of <paramref name="clips"/> <c>[N, 1, L]</c>, in batches, without gradients.</summary>
    public static Tensor Features(SpokenDigitClassifier model, Tensor clips, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(clips);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return cat(clips.split(batchSize).Select(model.Features).ToList(), 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// An ideal low-pass of clips <c>[..., L]</c>: the real FFT of each clip with every bin above
    /// <paramref name="cutoffHz"/> set to zero, transformed back to L samples.
    /// </summary>
    public static Tensor LowPass(Tensor clips, double cutoffHz, int sampleRate)
    {
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cutoffHz);
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
        using var scope = NewDisposeScope();
        var length = clips.shape[^1];
        var spectrum = fft.rfft(clips, dim: -1);
        var bins = spectrum.shape[^1];
        var keep = (long)Math.Floor(cutoffHz * length / sampleRate) + 1;
        if (keep < bins) spectrum.narrow(-1, keep, bins - keep).zero_();
        return fft.irfft(spectrum, length, dim: -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Fréchet distance (on the classifier's features) against the held-out clips, and accuracy, of sets of known quality:
    /// the held-out clips themselves; as many training clips (the floor for real audio); the held-out clips low-passed at
    /// 2 kHz and 1 kHz, with white noise at 20 dB SNR, and played backwards; the held-out clips of classes 0-4 only (half
    /// the modes); white Gaussian noise of the held-out clips' RMS.
    /// </summary>
    public static IReadOnlyList<CalibrationEntry> Calibrate(SpokenDigitClassifier model, IDataset data, StratifiedSplit split, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(split);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rate = model.Config.SampleRate;
        var (held, heldLabels) = Read(data, split.HeldOut);
        var n = split.HeldOut.Count;
        var trainSubset = split.Train.Where((_, i) => i % Math.Max(1, split.Train.Count / n) == 0).Take(n).ToArray();
        var (train, trainLabels) = Read(data, trainSubset);
        var reference = FrechetDistance.Statistics(Features(model, held));
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        var entries = new List<CalibrationEntry>();
        void Add(string name, string description, Tensor clips, long[]? truth)
        {
            using var inner = NewDisposeScope();
            var fd = FrechetDistance.Compute(reference, FrechetDistance.Statistics(Features(model, clips)));
            double? top1 = truth is null ? null : Accuracy(Predict(model, clips), truth);
            entries.Add(new CalibrationEntry(name, description, (int)clips.shape[0], fd, top1));
        }
        var rms = held.square().mean().sqrt();
        Add("held-out", "the held-out clips vs themselves", held, heldLabels);
        Add("train", $"{trainSubset.Length} training clips", train, trainLabels);
        Add("lowpass-2k", "held-out clips, low-passed at 2 kHz", LowPass(held, 2000, rate), heldLabels);
        Add("lowpass-1k", "held-out clips, low-passed at 1 kHz", LowPass(held, 1000, rate), heldLabels);
        Add("noisy-20db", "held-out clips + white noise at 20 dB SNR", held + randn(held.shape, generator: generator) * (rms * 0.1), heldLabels);
        Add("reversed", "held-out clips played backwards", held.flip(-1), heldLabels);
        var half = Enumerable.Range(0, n).Where(i => heldLabels[i] < 5).ToArray();
        Add("classes-0-4", $"the {half.Length} held-out clips of classes 0-4 only", held.index_select(0, tensor(half.Select(i => (long)i).ToArray())),
            half.Select(i => heldLabels[i]).ToArray());
        Add("noise", "white Gaussian noise with the held-out clips' RMS", randn(held.shape, generator: generator) * rms, null);
        return entries;
    }

    private static int ClipLength(IDataset data)
    {
        if (data.SampleShape.Count != 2 || data.SampleShape[0] != 1)
            throw new InvalidInputException($"dataset: expected mono clips [1, L], found samples [{string.Join(", ", data.SampleShape)}]");
        return data.SampleShape[1];
    }

    /// <summary>Copies a clip delayed by <paramref name="shift"/> samples (negative: advanced) and scaled; uncovered samples become silence.</summary>
    private static void ShiftInto(ReadOnlySpan<float> source, Span<float> destination, int shift, float gain)
    {
        destination.Clear();
        var length = source.Length;
        var from = Math.Max(0, -shift);
        var to = Math.Max(0, shift);
        var count = length - Math.Abs(shift);
        for (var i = 0; i < count; i++) destination[to + i] = source[from + i] * gain;
    }

    /// <summary>A double in [0, 1) from the top 53 bits of the next draw.</summary>
    private static double Uniform(ref SplitMix64 rng) => (rng.NextUInt64() >> 11) * (1.0 / (1UL << 53));

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
}
