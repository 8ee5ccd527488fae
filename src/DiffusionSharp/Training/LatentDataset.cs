using DiffusionSharp.Data;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// A dataset encoded once by a VAE (<see cref="LatentCache"/>): per image the posterior of the scaled latent,
/// z = mean + std · ε with mean = (μ − shift_factor) · scaling_factor and std = σ · scaling_factor. A sample is the two stacked
/// along channels, <c>[2C, h, w]</c> (mean first), so the batch loader moves both; the trainer draws ε per step from the
/// run's generator (<see cref="Sample"/>), which is exactly diffusers' <c>latent_dist.sample()</c> per step at no encoder cost.
/// </summary>
public sealed class LatentDataset : IDataset
{
    private readonly float[] _mean, _std;
    private readonly long[] _labels;
    private readonly int _latentSize;

    internal LatentDataset(float[] mean, float[] std, long[] labels, int[] latentShape, int resolution, int numClasses,
        IReadOnlyList<string> classNames, string vaeClassName, bool reused)
    {
        _mean = mean;
        _std = std;
        _labels = labels;
        LatentShape = latentShape;
        _latentSize = latentShape.Aggregate(1, (a, b) => a * b);
        Count = mean.Length / _latentSize;
        Resolution = resolution;
        NumClasses = numClasses;
        ClassNames = classNames;
        VaeClassName = vaeClassName;
        Reused = reused;
    }

    /// <inheritdoc />
    public int Count { get; }

    /// <summary>The latent of one image, <c>[C, h, w]</c>: what the U-Net sees.</summary>
    public IReadOnlyList<int> LatentShape { get; }

    /// <summary><c>[2C, h, w]</c>: the posterior mean and standard deviation stacked along channels.</summary>
    public IReadOnlyList<int> SampleShape => [2 * LatentShape[0], .. LatentShape.Skip(1)];

    /// <inheritdoc />
    public int NumClasses { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The side of the images that were encoded.</summary>
    public int Resolution { get; }

    /// <summary>The VAE's diffusers <c>_class_name</c> (what <c>model_index.json</c> names for <c>vae</c>).</summary>
    public string VaeClassName { get; }

    /// <summary>Whether the latents came from an existing cache (true) or were encoded now (false).</summary>
    public bool Reused { get; }

    /// <inheritdoc />
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
    {
        int n = _latentSize;
        for (int i = 0; i < indices.Length; i++)
        {
            int k = indices[i];
            if ((uint)k >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"index {k} is outside [0, {Count})");
            _mean.AsSpan(k * n, n).CopyTo(samples.Slice(2 * i * n, n));
            _std.AsSpan(k * n, n).CopyTo(samples.Slice((2 * i + 1) * n, n));
            if (NumClasses > 0) labels[i] = _labels[k];
        }
    }

    /// <summary>z = mean + std · ε for a batch of stacked moments <c>[B, 2C, h, w]</c> and standard-normal ε <c>[B, C, h, w]</c>.</summary>
    public Tensor Sample(Tensor moments, Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(moments);
        ArgumentNullException.ThrowIfNull(noise);
        using var scope = NewDisposeScope();
        var parts = moments.chunk(2, 1);
        return parts[0].addcmul(parts[1], noise, 1.0).MoveToOuterDisposeScope();
    }
}
