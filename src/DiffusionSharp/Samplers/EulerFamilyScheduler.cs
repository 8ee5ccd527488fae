using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the Euler-type samplers, <see cref="EulerDiscreteScheduler"/>, <see cref="EulerAncestralDiscreteScheduler"/> and
/// <see cref="HeunDiscreteScheduler"/>, share: they step in the VE parameterisation of Karras et al. (2022), where the
/// sample is x = x_0 + σ·ε (so x_T has standard deviation σ_max), the model sees x / sqrt(σ² + 1), and every step starts
/// from the denoised estimate D(x; σ) (<see cref="ModelOutputConversion.PredictOriginalSampleVe"/>). diffusers builds their
/// float32 timesteps and sigmas the same way. Only this library derives from it.
/// </summary>
public abstract class EulerFamilyScheduler : SigmaTimelineScheduler
{
    /// <param name="options">The sampler's options, validated here.</param>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    private protected EulerFamilyScheduler(ISamplerOptions options) : base(options) { }

    /// <summary>
    /// The standard deviation of x_T: σ_max for linspace and trailing spacing, sqrt(σ_max² + 1) for leading
    /// (diffusers' rule; float32 arithmetic like its 0-d tensors).
    /// </summary>
    public override double InitNoiseSigma
    {
        get
        {
            float max = Run.Sigmas.Max();
            return Spacing is TimestepSpacing.Linspace or TimestepSpacing.Trailing ? max : MathF.Sqrt(max * max + 1f);
        }
    }

    /// <summary>x / sqrt(σ² + 1): the VP sample x_t the network was trained on.</summary>
    public override Tensor ScaleModelInput(Tensor sample, double timestep)
    {
        float sigma = Run.Sigmas[Run.Current(timestep, missingIsLast: false)];
        return sample / MathF.Sqrt(sigma * sigma + 1f);
    }

    /// <summary>The VE forward process x_0 + σ·noise with σ of each batch item's timestep (diffusers' <c>add_noise</c>; call after <see cref="TimelineScheduler.SetTimesteps"/>).</summary>
    /// <param name="originalSamples">x_0 [B, C, H, W].</param>
    /// <param name="noise">ε, same shape.</param>
    /// <param name="timesteps">One timestep per batch item, each an element of <see cref="TimelineScheduler.Timesteps"/>.</param>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps)
    {
        using var sigma = Run.BatchSigmas(timesteps, missingIsLast: false, originalSamples);
        using var scaled = noise * sigma;
        return originalSamples + scaled;
    }

    /// <summary>
    /// diffusers' <c>set_timesteps</c> of the three samplers: float32 timesteps for the spacing and their sigmas (float64
    /// interpolation in the float32 table, rounded to float32), or Karras sigmas and their fractional timesteps (float32,
    /// or float64 as LMS keeps them); then the final sigma.
    /// </summary>
    private protected (double[] Timesteps, float[] Sigmas) BuildSigmas(int numInferenceSteps, int stepsOffset,
        bool useKarras, double? sigmaMin, double? sigmaMax, float finalSigma, bool float64KarrasTimesteps = false)
    {
        var timesteps = SigmaSchedules.FloatTimesteps(Spacing, SigmaTable.Length, numInferenceSteps, stepsOffset)
            .Select(v => (double)v).ToArray();
        var sigmas = timesteps.Select(t => SigmaSchedules.Interp(t, SigmaTable)).ToArray();
        if (useKarras)
        {
            // the Karras range defaults to the interpolated sigmas of the first and last timestep, not the table ends
            sigmas = SigmaSchedules.Karras(sigmaMin ?? sigmas[^1], sigmaMax ?? sigmas[0], numInferenceSteps);
            var logSigmas = SigmaSchedules.Log(SigmaTable);
            timesteps = sigmas.Select(s => SigmaSchedules.SigmaToT(s, logSigmas))
                .Select(t => float64KarrasTimesteps ? t : (float)t).ToArray();
        }
        return (timesteps, sigmas.Select(s => (float)s).Append(finalSigma).ToArray());
    }
}
