using System.Diagnostics;
using System.Runtime.InteropServices;
using DiffusionSharp.Data;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Evaluation;

/// <summary>A fixed-seed, per-class (stratified) train/held-out split of a labelled dataset.</summary>
/// <param name="Train">Indices to train on, ascending.</param>
/// <param name="HeldOut">Indices never trained on, ascending.</param>
/// <param name="TrainOnlyClasses">Classes with fewer than <see cref="StratifiedSplit.MinClassSizeForHeldOut"/> images: all of them are in <see cref="Train"/>.</param>
public sealed record StratifiedSplit(IReadOnlyList<int> Train, IReadOnlyList<int> HeldOut, IReadOnlyList<int> TrainOnlyClasses)
{
    /// <summary>A class needs this many images to give any to the held-out set.</summary>
    public const int MinClassSizeForHeldOut = 5;

    private const ulong Salt = 0x5354_5241_5449_4659UL;

    /// <summary>
    /// Per class, shuffles its indices with (seed, class) and holds out round(n · fraction) of them (at least 1) when the
    /// class has at least <see cref="MinClassSizeForHeldOut"/> images; smaller classes are kept whole for training.
    /// </summary>
    /// <exception cref="InvalidInputException">A fraction outside (0, 0.5].</exception>
    public static StratifiedSplit Create(IReadOnlyList<long> labels, double heldOutFraction, long seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (!(heldOutFraction > 0 && heldOutFraction <= 0.5))
            throw new InvalidInputException($"held-out fraction: expected in (0, 0.5], found {heldOutFraction}");
        var train = new List<int>();
        var held = new List<int>();
        var small = new List<int>();
        foreach (var group in Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(g => g.Key))
        {
            var members = group.ToArray();
            if (members.Length < MinClassSizeForHeldOut)
            {
                train.AddRange(members);
                small.Add((int)group.Key);
                continue;
            }
            var rng = new SplitMix64(SplitMix64.Hash((ulong)seed, Salt, (ulong)group.Key));
            for (var i = members.Length - 1; i > 0; i--)
            {
                var j = rng.NextInt(i + 1);
                (members[i], members[j]) = (members[j], members[i]);
            }
            var k = Math.Max(1, (int)Math.Round(members.Length * heldOutFraction));
            held.AddRange(members.Take(k));
            train.AddRange(members.Skip(k));
        }
        train.Sort();
        held.Sort();
        return new StratifiedSplit(train, held, small);
    }
}

/// <summary>Result of <see cref="ImageClassifierTrainer.Train"/>.</summary>
public sealed record ImageClassifierTrainingResult(
    ImageClassifier Model, IReadOnlyList<double> EpochLosses, double Top1, double Top5, int Steps, TimeSpan Elapsed);

/// <summary>
/// Trains an <see cref="ImageClassifier"/>: AdamW, cosine decay to 0, cross-entropy, random shifts of up to ±maxShift
/// pixels (edges replicated). Deterministic for a seed on a given machine and thread count.
/// </summary>
public static class ImageClassifierTrainer
{
    private const ulong ShuffleSalt = 0x494D_4753_4855_4646UL;
    private const ulong ShiftSalt = 0x494D_4753_4846_5453UL;

    /// <summary>All images of <paramref name="data"/> at <paramref name="indices"/> as <c>[N, C, H, W]</c> float32 and their labels.</summary>
    public static (Tensor Images, long[] Labels) Read(IImageDataset data, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(indices);
        var values = new float[(long)indices.Count * data.ImageSize];
        var labels = new long[indices.Count];
        data.FillBatch(indices.ToArray(), values, data.HasLabels ? labels : Span<long>.Empty);
        var t = empty([indices.Count, data.Channels, data.Height, data.Width], ScalarType.Float32);
        MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(t.bytes);
        return (t, labels);
    }

    /// <summary>Trains a new classifier on <paramref name="split"/>'s training images and measures top-1/top-5 on its held-out ones.</summary>
    /// <exception cref="InvalidInputException">Unlabelled or non-square data, or an option out of range.</exception>
    public static ImageClassifierTrainingResult Train(
        IImageDataset data, StratifiedSplit split, int epochs, int batchSize, long seed,
        double learningRate = 2e-3, double weightDecay = 1e-4, int maxShift = 2, ImageClassifierConfig? config = null,
        Action<int, double>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(split);
        if (!data.HasLabels) throw new InvalidInputException("dataset: expected class labels, found none (give --label-column)");
        if (data.Height != data.Width) throw new InvalidInputException($"dataset: expected square images, found {data.Height} x {data.Width}");
        if (epochs < 1) throw new InvalidInputException($"epochs: expected ≥ 1, found {epochs}");
        if (batchSize < 1 || batchSize > split.Train.Count)
            throw new InvalidInputException($"batch size: expected 1 to {split.Train.Count} (the training images), found {batchSize}");
        if (!(learningRate > 0)) throw new InvalidInputException($"learning rate: expected > 0, found {learningRate}");
        if (maxShift is < 0 or > 8) throw new InvalidInputException($"max shift: expected 0 to 8 pixels, found {maxShift}");
        config ??= new ImageClassifierConfig(InChannels: data.Channels, ImageSize: data.Height, NumClasses: data.NumClasses);

        var clock = Stopwatch.StartNew();
        var (images, labels) = Read(data, split.Train);
        using var imagesScope = images;
        using var padded = maxShift > 0 ? F.pad(images, [maxShift, maxShift, maxShift, maxShift], TorchSharp.PaddingModes.Replicate) : images.alias();
        using var generator = new Generator((ulong)seed);
        var model = new ImageClassifier(config, data.ClassNames, generator);
        try
        {
            using var optimizer = optim.AdamW(model.parameters(), lr: learningRate, weight_decay: weightDecay);
            var stepsPerEpoch = split.Train.Count / batchSize;
            var totalSteps = epochs * stepsPerEpoch;
            var size = data.Height;
            var losses = new List<double>();
            var step = 0;
            model.train();
            for (var epoch = 0; epoch < epochs; epoch++)
            {
                var order = Shuffle(split.Train.Count, seed, epoch);
                var lossSum = 0.0;
                for (var b = 0; b < stepsPerEpoch; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    var crops = new Tensor[batchSize];
                    var batchLabels = new long[batchSize];
                    for (var i = 0; i < batchSize; i++)
                    {
                        var position = b * batchSize + i;
                        var source = order[position];
                        var rng = new SplitMix64(SplitMix64.Hash((ulong)seed, ShiftSalt, ((ulong)epoch << 32) | (uint)position));
                        var dx = maxShift == 0 ? 0 : rng.NextInt(2 * maxShift + 1);
                        var dy = maxShift == 0 ? 0 : rng.NextInt(2 * maxShift + 1);
                        crops[i] = padded[source].narrow(1, dy, size).narrow(2, dx, size);
                        batchLabels[i] = labels[source];
                    }
                    var x = stack(crops);
                    var y = tensor(batchLabels);
                    optimizer.ParamGroups.First().LearningRate = learningRate * 0.5 * (1 + Math.Cos(Math.PI * step / totalSteps));
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
            var (top1, top5) = Accuracy(model, data, split.HeldOut);
            return new ImageClassifierTrainingResult(model, losses, top1, top5, step, clock.Elapsed);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Top-1 and top-5 accuracy on the images at <paramref name="indices"/>.</summary>
    public static (double Top1, double Top5) Accuracy(ImageClassifier model, IImageDataset data, IReadOnlyList<int> indices, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (indices.Count == 0) throw new InvalidInputException("evaluation indices: expected at least one image, found none");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (images, labels) = Read(data, indices);
        var logits = cat(images.split(batchSize).Select(model.Logits).ToList(), 0);
        var y = tensor(labels).unsqueeze(1);
        var k = Math.Min(5, model.Config.NumClasses);
        var top = logits.topk(k, 1).indexes;
        var top1 = top.narrow(1, 0, 1).eq(y).sum().item<long>();
        var top5 = top.eq(y).any(1).sum().item<long>();
        return ((double)top1 / indices.Count, (double)top5 / indices.Count);
    }

    /// <summary>The top-1 class of each of <paramref name="images"/> <c>[N, C, S, S]</c>, in batches, without gradients.</summary>
    public static long[] Predict(ImageClassifier model, Tensor images, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return cat(images.split(batchSize).Select(model.Logits).ToList(), 0).argmax(1).data<long>().ToArray();
    }

    /// <summary>Penultimate features of <paramref name="images"/> <c>[N, C, S, S]</c>, in batches, without gradients.</summary>
    public static Tensor Features(ImageClassifier model, Tensor images, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return cat(images.split(batchSize).Select(model.Features).ToList(), 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Gaussian blur of <c>[N, C, H, W]</c> images, each channel separately, with standard deviation
    /// <paramref name="sigma"/> pixels (kernel radius ⌈3σ⌉), edges replicated.
    /// </summary>
    public static Tensor Blur(Tensor images, double sigma)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sigma);
        using var scope = NewDisposeScope();
        var radius = (int)Math.Ceiling(3 * sigma);
        var weights = Enumerable.Range(-radius, 2 * radius + 1).Select(x => (float)Math.Exp(-x * x / (2 * sigma * sigma))).ToArray();
        var sum = weights.Sum();
        var k1 = tensor(weights.Select(w => w / sum).ToArray());
        var channels = images.shape[1];
        var kernel = k1.outer(k1).reshape(1, 1, 2 * radius + 1, 2 * radius + 1).expand(channels, 1, -1, -1).contiguous();
        var padded = F.pad(images, [radius, radius, radius, radius], TorchSharp.PaddingModes.Replicate);
        return F.conv2d(padded, kernel, groups: channels).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// FID (on the classifier's features) against the held-out images of sets of known quality: the held-out images
    /// themselves, as many training images, the held-out images blurred with σ = 1 and 2 px, and uniform noise in [-1, 1].
    /// </summary>
    public static IReadOnlyList<CalibrationEntry> Calibrate(ImageClassifier model, IImageDataset data, StratifiedSplit split, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(split);
        using var scope = NewDisposeScope();
        var (held, _) = Read(data, split.HeldOut);
        var n = split.HeldOut.Count;
        var trainSubset = split.Train.Where((_, i) => i % Math.Max(1, split.Train.Count / n) == 0).Take(n).ToArray();
        var (train, _) = Read(data, trainSubset);
        var reference = FrechetDistance.Statistics(Features(model, held));
        using var generator = new Generator((ulong)seed);
        var entries = new List<CalibrationEntry>();
        void Add(string name, string description, Tensor images, IReadOnlyList<int>? indices)
        {
            using var inner = NewDisposeScope();
            var fid = FrechetDistance.Compute(reference, FrechetDistance.Statistics(Features(model, images)));
            double? top1 = null;
            if (indices is not null)
            {
                var predicted = cat(images.split(256).Select(model.Logits).ToList(), 0).argmax(1);
                var truth = new long[indices.Count];
                var values = new float[(long)indices.Count * data.ImageSize];
                data.FillBatch(indices.ToArray(), values, truth);
                top1 = (double)predicted.eq(tensor(truth)).sum().item<long>() / indices.Count;
            }
            entries.Add(new CalibrationEntry(name, description, (int)images.shape[0], fid, top1));
        }
        using (no_grad())
        {
            Add("held-out", "the held-out images vs themselves", held, split.HeldOut);
            Add("train", $"{trainSubset.Length} training images", train, trainSubset);
            Add("blur-1", "held-out images, Gaussian blur σ = 1 px", Blur(held, 1), split.HeldOut);
            Add("blur-2", "held-out images, Gaussian blur σ = 2 px", Blur(held, 2), split.HeldOut);
            Add("noise", "uniform noise in [-1, 1]", rand(held.shape, generator: generator).mul_(2).sub_(1), null);
        }
        return entries;
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
}
