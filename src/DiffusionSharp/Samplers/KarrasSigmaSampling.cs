using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the Euler-type samplers (Euler, Euler ancestral, Heun) share, in the VE parameterisation of Karras et al.
/// (2022): the sample is x = x_0 + σ·ε, the model sees x / sqrt(σ² + 1), and every step starts from the denoised
/// estimate D(x; σ).
/// </summary>
internal static class KarrasSigmaSampling
{
    /// <summary>
    /// diffusers' float32 timesteps for the spacing, and their sigmas (float64 interpolation in the float32 table,
    /// rounded to float32), or Karras sigmas and their fractional timesteps; then the final sigma.
    /// </summary>
    public static (double[] Timesteps, float[] Sigmas) Build(
        float[] sigmaTable, TimestepSpacing spacing, int numInferenceSteps, int stepsOffset,
        bool useKarras, double? sigmaMin, double? sigmaMax, float finalSigma)
    {
        var timesteps = SigmaSchedules.FloatTimesteps(spacing, sigmaTable.Length, numInferenceSteps, stepsOffset)
            .Select(v => (double)v).ToArray();
        var sigmas = timesteps.Select(t => SigmaSchedules.Interp(t, sigmaTable)).ToArray();
        if (useKarras)
        {
            // the Karras range defaults to the interpolated sigmas of the first and last timestep, not the table ends
            sigmas = SigmaSchedules.Karras(sigmaMin ?? sigmas[^1], sigmaMax ?? sigmas[0], numInferenceSteps);
            var logSigmas = SigmaSchedules.Log(sigmaTable);
            timesteps = sigmas.Select(s => (double)(float)SigmaSchedules.SigmaToT(s, logSigmas)).ToArray();
        }
        return (timesteps, sigmas.Select(s => (float)s).Append(finalSigma).ToArray());
    }

    /// <summary>
    /// The standard deviation of x_T: σ_max for linspace and trailing spacing, sqrt(σ_max² + 1) for leading
    /// (diffusers' rule; float32 arithmetic like its 0-d tensors).
    /// </summary>
    public static double InitNoiseSigma(float[] sigmas, TimestepSpacing spacing)
    {
        float max = sigmas.Max();
        return spacing is TimestepSpacing.Linspace or TimestepSpacing.Trailing ? max : MathF.Sqrt(max * max + 1f);
    }

    /// <summary>x / sqrt(σ² + 1): the VP sample x_t the network was trained on.</summary>
    public static Tensor ScaleModelInput(Tensor sample, float sigma) => sample / MathF.Sqrt(sigma * sigma + 1f);

    /// <summary>x_0 + σ·noise with σ of each batch item's timestep (diffusers' Euler <c>add_noise</c>).</summary>
    public static Tensor AddNoise(SigmaTimeline run, Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps)
    {
        using var sigma = run.BatchSigmas(timesteps, missingIsLast: false, originalSamples);
        using var scaled = noise * sigma;
        return originalSamples + scaled;
    }
}
