using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the sigma-based samplers share, the Euler family (<see cref="EulerFamilyScheduler"/>) and the exponential
/// integrators (<see cref="ExponentialIntegratorScheduler"/>): their options, the float32 sigma table of the training
/// schedule, a run on a <see cref="SigmaTimeline"/> (timesteps, sigmas, step index, begin index), and the catalog's
/// capabilities and overrides. Only this library derives from it.
/// </summary>
public abstract class SigmaTimelineScheduler : IScheduler
{
    private readonly ISamplerOptions _options;
    private SigmaTimeline? _run;

    /// <param name="options">The sampler's options, validated here.</param>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    private protected SigmaTimelineScheduler(ISamplerOptions options)
    {
        options.Validate();
        _options = options;
        Schedule = NoiseSchedule.Create(options.Schedule);
        AlphasCumprod = SigmaSchedules.SamplerAlphasCumprod(Schedule);
        SigmaTable = SigmaSchedules.SigmaTable(AlphasCumprod);
    }

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public NoiseSchedule Schedule { get; }

    /// <inheritdoc />
    public PredictionType PredictionType => _options.PredictionType;

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => Run.Timesteps;

    /// <summary>The noise level of each entry of <see cref="Timesteps"/> plus the final one (float32, descending).</summary>
    public IReadOnlyList<float> Sigmas => Run.Sigmas;

    /// <inheritdoc />
    public abstract double InitNoiseSigma { get; }

    /// <inheritdoc />
    public virtual SamplerCapabilities Capabilities => SamplerCatalog.Get(Name).Capabilities;

    /// <summary>ᾱ per training timestep as these samplers hold it (2^-24 for a zero terminal SNR).</summary>
    private protected float[] AlphasCumprod { get; }

    /// <summary>σ = sqrt((1 - ᾱ)/ᾱ) per training timestep, float32 as in diffusers.</summary>
    private protected float[] SigmaTable { get; }

    /// <summary>The spacing of the inference timesteps.</summary>
    private protected TimestepSpacing Spacing => _options.TimestepSpacing;

    private protected SigmaTimeline Run => _run ?? throw new InvalidOperationException("call SetTimesteps before sampling");

    /// <inheritdoc />
    public abstract void SetTimesteps(int numInferenceSteps);

    /// <summary>Starts the next run at timestep index <paramref name="beginIndex"/> instead of looking up the first timestep (diffusers' <c>set_begin_index</c>, for image-to-image).</summary>
    public void SetBeginIndex(int beginIndex) => Run.BeginIndex = beginIndex;

    /// <inheritdoc />
    public abstract Tensor ScaleModelInput(Tensor sample, double timestep);

    /// <inheritdoc />
    public abstract SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null);

    /// <inheritdoc />
    public abstract Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps);

    /// <inheritdoc />
    public double PreviousTimestep(int index) => Run.Previous(index);

    /// <inheritdoc />
    public IScheduler With(SamplerOverrides overrides)
    {
        overrides.CheckFor(Name, Capabilities);
        return Rebuild(overrides);
    }

    /// <inheritdoc />
    public abstract JsonObject ToConfigJson();

    /// <summary>The same sampler with the checked <paramref name="overrides"/> applied to its options (<c>Options with { … }</c>).</summary>
    private protected abstract IScheduler Rebuild(SamplerOverrides overrides);

    /// <summary>Starts a run over <paramref name="timesteps"/> and their <paramref name="sigmas"/> (one more: the final one).</summary>
    private protected void StartRun(double[] timesteps, float[] sigmas) => _run = new SigmaTimeline(timesteps, sigmas);
}
