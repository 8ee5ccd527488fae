using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What every sampler that steps along a <see cref="SigmaTimeline"/> shares, whatever its formulation: the run's
/// timesteps and sigmas, diffusers' step and begin index, where each step lands, and the catalog's capabilities and
/// overrides. <see cref="SigmaTimelineScheduler"/> (the DDPM-family sigma samplers over a beta schedule), the flow-matching
/// samplers (<see cref="FlowMatchScheduler"/>) and the EDM samplers (<see cref="EdmScheduler"/>) derive from it. Only
/// this library derives from it.
/// </summary>
public abstract class TimelineScheduler : IScheduler
{
    private SigmaTimeline? _run;

    private protected TimelineScheduler() { }

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public abstract NoiseSchedule? Schedule { get; }

    /// <inheritdoc />
    public abstract PredictionType PredictionType { get; }

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => Run.Timesteps;

    /// <summary>The noise level of each entry of <see cref="Timesteps"/> plus the final one (float32, descending).</summary>
    public IReadOnlyList<float> Sigmas => Run.Sigmas;

    /// <inheritdoc />
    public abstract double InitNoiseSigma { get; }

    /// <inheritdoc />
    public virtual SamplerCapabilities Capabilities => SamplerCatalog.Get(Name).Capabilities;

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
