using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the sigma-based samplers share, the Euler family (<see cref="EulerFamilyScheduler"/>) and the exponential
/// integrators (<see cref="ExponentialIntegratorScheduler"/>): their options and the float32 sigma table of the training
/// schedule; the run on a <see cref="SigmaTimeline"/> is <see cref="TimelineScheduler"/>'s. Only this library derives from it.
/// </summary>
public abstract class SigmaTimelineScheduler : TimelineScheduler
{
    private readonly ISamplerOptions _options;

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
    public override NoiseSchedule Schedule { get; }

    /// <inheritdoc />
    public override PredictionType PredictionType => _options.PredictionType;

    /// <summary>ᾱ per training timestep as these samplers hold it (2^-24 for a zero terminal SNR).</summary>
    private protected float[] AlphasCumprod { get; }

    /// <summary>σ = sqrt((1 - ᾱ)/ᾱ) per training timestep, float32 as in diffusers.</summary>
    private protected float[] SigmaTable { get; }

    /// <summary>The spacing of the inference timesteps.</summary>
    private protected TimestepSpacing Spacing => _options.TimestepSpacing;
}
