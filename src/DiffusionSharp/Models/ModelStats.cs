using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>Size and cost of a network (any <see cref="IDenoiser"/>), for <c>model info</c> and the benchmarks.</summary>
/// <param name="ParameterCount">Number of parameters, counted like diffusers' <c>num_parameters()</c>.</param>
/// <param name="ParameterBytes">Bytes the parameters occupy in their current dtype.</param>
/// <param name="WeightDType">Element type of the parameters (the first parameter's, if mixed).</param>
/// <param name="SampleShape">The sample <c>[C, ...]</c> the FLOPs are counted for.</param>
/// <param name="FlopsPerSample">
/// Forward FLOPs per sample (2 x multiply-adds) of every convolution, linear layer and attention matmul (QK^T and AV), computed
/// analytically from the layer shapes. Norms, activations, softmax and additions (a few percent) are not counted.
/// </param>
public sealed record ModelStats(long ParameterCount, long ParameterBytes, ScalarType WeightDType, IReadOnlyList<int> SampleShape, long FlopsPerSample)
{
    /// <summary><see cref="FlopsPerSample"/> / 1e9.</summary>
    public double GFlopsPerSample => FlopsPerSample / 1e9;

    /// <summary>The sample's height: its second-to-last axis (1 for a 1-D sample).</summary>
    public int Height => SampleShape.Count >= 3 ? SampleShape[^2] : 1;

    /// <summary>The sample's width: its last axis.</summary>
    public int Width => SampleShape[^1];

    /// <summary>Stats of an existing network; the sample shape defaults to the config's.</summary>
    /// <exception cref="ArgumentException">No shape given and the config has none (e.g. no sample_size).</exception>
    public static ModelStats Of(IDenoiser model, IReadOnlyList<int>? sampleShape = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var shape = sampleShape ?? model.Config.SampleShape
            ?? throw new ArgumentException("the config has no sample size: pass a sample shape", nameof(sampleShape));
        long count = 0, bytes = 0;
        ScalarType? dtype = null;
        foreach (var p in model.Module.parameters())
        {
            count += p.numel();
            bytes += p.numel() * p.element_size();
            dtype ??= p.dtype;
        }
        return new ModelStats(count, bytes, dtype ?? ScalarType.Float32, shape.ToArray(), model.FlopsPerSample(shape));
    }

    /// <summary>Stats of a config, measured on a shape-only network on the <c>meta</c> device (no weights allocated).</summary>
    public static ModelStats Of(IDenoiserConfig config, IReadOnlyList<int>? sampleShape = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var model = config.Build(new Device(TorchSharp.DeviceType.META));
        return Of(model, sampleShape);
    }
}
