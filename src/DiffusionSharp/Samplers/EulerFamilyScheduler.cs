using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the Euler-type samplers, <see cref="EulerDiscreteScheduler"/>, <see cref="EulerAncestralDiscreteScheduler"/> and
/// <see cref="HeunDiscreteScheduler"/>, share: they step in the VE parameterisation of Karras et al. (2022), where the
/// sample is x = x_0 + σ·ε (so x_T has standard deviation σ_max), the model sees x / sqrt(σ² + 1), and every step starts
/// from the denoised estimate D(x; σ) (<see cref="ModelOutputConversion.PredictOriginalSampleVe"/>). diffusers builds their
/// float32 timesteps and sigmas the same way. Only this library derives from it.
/// </summary>
public abstract class EulerFamilyScheduler : IScheduler
{
    private SigmaTimeline? _run;

    /// <param name="schedule">The training noise schedule.</param>
    private protected EulerFamilyScheduler(NoiseScheduleConfig schedule)
    {
        Schedule = NoiseSchedule.Create(schedule);
        SigmaTable = SigmaSchedules.SigmaTable(SigmaSchedules.SamplerAlphasCumprod(Schedule));
    }

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public NoiseSchedule Schedule { get; }

    /// <inheritdoc />
    public abstract PredictionType PredictionType { get; }

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => Run.Timesteps;

    /// <summary>The noise level of each entry of <see cref="Timesteps"/> plus the final one (float32, descending).</summary>
    public IReadOnlyList<float> Sigmas => Run.Sigmas;

    /// <summary>
    /// The standard deviation of x_T: σ_max for linspace and trailing spacing, sqrt(σ_max² + 1) for leading
    /// (diffusers' rule; float32 arithmetic like its 0-d tensors).
    /// </summary>
    public double InitNoiseSigma
    {
        get
        {
            float max = Run.Sigmas.Max();
            return Spacing is TimestepSpacing.Linspace or TimestepSpacing.Trailing ? max : MathF.Sqrt(max * max + 1f);
        }
    }

    /// <summary>The spacing of the inference timesteps.</summary>
    private protected abstract TimestepSpacing Spacing { get; }

    /// <summary>σ per training timestep, float32 as in diffusers.</summary>
    private protected float[] SigmaTable { get; }

    private protected SigmaTimeline Run => _run ?? throw new InvalidOperationException("call SetTimesteps before sampling");

    /// <inheritdoc />
    public abstract void SetTimesteps(int numInferenceSteps);

    /// <summary>Starts the next run at timestep index <paramref name="beginIndex"/> (diffusers' <c>set_begin_index</c>, for image-to-image).</summary>
    public void SetBeginIndex(int beginIndex) => Run.BeginIndex = beginIndex;

    /// <summary>x / sqrt(σ² + 1): the VP sample x_t the network was trained on.</summary>
    public Tensor ScaleModelInput(Tensor sample, double timestep)
    {
        float sigma = Run.Sigmas[Run.Current(timestep, missingIsLast: false)];
        return sample / MathF.Sqrt(sigma * sigma + 1f);
    }

    /// <inheritdoc />
    public abstract SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null);

    /// <summary>The VE forward process x_0 + σ·noise with σ of each batch item's timestep (diffusers' <c>add_noise</c>; call after <see cref="SetTimesteps"/>).</summary>
    /// <param name="originalSamples">x_0 [B, C, H, W].</param>
    /// <param name="noise">ε, same shape.</param>
    /// <param name="timesteps">One timestep per batch item, each an element of <see cref="Timesteps"/>.</param>
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps)
    {
        using var sigma = Run.BatchSigmas(timesteps, missingIsLast: false, originalSamples);
        using var scaled = noise * sigma;
        return originalSamples + scaled;
    }

    /// <inheritdoc />
    public abstract JsonObject ToConfigJson();

    /// <inheritdoc />
    public virtual SamplerCapabilities Capabilities => SamplerCatalog.Get(Name).Capabilities;

    /// <inheritdoc />
    public double PreviousTimestep(int index) => Run.Previous(index);

    /// <inheritdoc />
    public abstract IScheduler With(SamplerOverrides overrides);

    /// <summary>
    /// diffusers' <c>set_timesteps</c> of the three samplers: float32 timesteps for the spacing and their sigmas (float64
    /// interpolation in the float32 table, rounded to float32), or Karras sigmas and their fractional timesteps; then the
    /// final sigma.
    /// </summary>
    private protected (double[] Timesteps, float[] Sigmas) BuildSigmas(int numInferenceSteps, int stepsOffset,
        bool useKarras, double? sigmaMin, double? sigmaMax, float finalSigma)
    {
        var timesteps = SigmaSchedules.FloatTimesteps(Spacing, SigmaTable.Length, numInferenceSteps, stepsOffset)
            .Select(v => (double)v).ToArray();
        var sigmas = timesteps.Select(t => SigmaSchedules.Interp(t, SigmaTable)).ToArray();
        if (useKarras)
        {
            // the Karras range defaults to the interpolated sigmas of the first and last timestep, not the table ends
            sigmas = SigmaSchedules.Karras(sigmaMin ?? sigmas[^1], sigmaMax ?? sigmas[0], numInferenceSteps);
            var logSigmas = SigmaSchedules.Log(SigmaTable);
            timesteps = sigmas.Select(s => (double)(float)SigmaSchedules.SigmaToT(s, logSigmas)).ToArray();
        }
        return (timesteps, sigmas.Select(s => (float)s).Append(finalSigma).ToArray());
    }

    /// <summary>Starts a run over <paramref name="timesteps"/> and their <paramref name="sigmas"/> (one more: the final one).</summary>
    private protected void StartRun(double[] timesteps, float[] sigmas) => _run = new SigmaTimeline(timesteps, sigmas);
}
