using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What a sampler does to its predicted x_0 before using it: nothing, a plain clip to [-range, range]
/// (diffusers' <c>clip_sample</c>, <c>clip_sample_range</c>), or dynamic thresholding (Saharia et al. 2022, Imagen,
/// section 2.3; diffusers' <c>thresholding</c>, <c>dynamic_thresholding_ratio</c>, <c>sample_max_value</c>).
/// Thresholding wins over clipping, as in diffusers.
/// </summary>
/// <param name="ClipSample">Clamp x_0 to [-<paramref name="ClipSampleRange"/>, <paramref name="ClipSampleRange"/>]; right for pixel-space models trained on [-1, 1].</param>
/// <param name="ClipSampleRange">The clip bound, &gt; 0.</param>
/// <param name="Thresholding">Per sample, clamp to [-s, s] and divide by s, where s is the <paramref name="DynamicThresholdingRatio"/> quantile of |x_0|, limited to [1, <paramref name="SampleMaxValue"/>].</param>
/// <param name="DynamicThresholdingRatio">The quantile, in (0, 1].</param>
/// <param name="SampleMaxValue">The largest threshold s, &gt;= 1 to have an effect.</param>
public sealed record SampleClipping(
    bool ClipSample = true,
    double ClipSampleRange = 1.0,
    bool Thresholding = false,
    double DynamicThresholdingRatio = 0.995,
    double SampleMaxValue = 1.0)
{
    /// <summary>No clipping and no thresholding.</summary>
    public static SampleClipping None { get; } = new(ClipSample: false);

    /// <summary>Checks the ranges, naming diffusers' keys.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        if (!(ClipSampleRange > 0))
            throw new InvalidInputException($"clip_sample_range must be greater than 0 (got {ClipSampleRange})");
        if (!(DynamicThresholdingRatio > 0 && DynamicThresholdingRatio <= 1))
            throw new InvalidInputException($"dynamic_thresholding_ratio must lie in (0, 1] (got {DynamicThresholdingRatio})");
        if (!(SampleMaxValue > 0))
            throw new InvalidInputException($"sample_max_value must be greater than 0 (got {SampleMaxValue})");
    }

    /// <summary>The processed x_0 [B, ...], a fresh tensor (an alias when nothing applies).</summary>
    public Tensor Apply(Tensor predOriginalSample)
    {
        if (Thresholding) return DynamicThreshold(predOriginalSample);
        if (ClipSample) return predOriginalSample.clamp(-ClipSampleRange, ClipSampleRange);
        return predOriginalSample.alias();
    }

    private Tensor DynamicThreshold(Tensor x0)
    {
        var flat = x0.reshape(x0.shape[0], -1);
        using var q = tensor(DynamicThresholdingRatio, flat.dtype, flat.device);
        var s = quantile(flat.abs(), q, dim: 1).clamp(1.0, SampleMaxValue).unsqueeze(1);
        return (minimum(maximum(flat, -s), s) / s).reshape(x0.shape);
    }
}
