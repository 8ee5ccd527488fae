using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The sampling options of <see cref="DDPMScheduler"/>, with diffusers' defaults.</summary>
public sealed record DDPMSchedulerOptions
{
    /// <summary>What the model predicts (<c>prediction_type</c>).</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary>The reverse-step variance (<c>variance_type</c>); fixed_small is the DDPM paper's choice for CIFAR-10.</summary>
    public DDPMVarianceType VarianceType { get; init; } = DDPMVarianceType.FixedSmall;

    /// <summary>What happens to the predicted x_0 (<c>clip_sample</c>, on by default as in diffusers, and thresholding).</summary>
    public SampleClipping Clipping { get; init; } = new();

    /// <summary>How the inference timesteps are picked (<c>timestep_spacing</c>).</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading;

    /// <summary>Added to leading timesteps (<c>steps_offset</c>); Stable Diffusion uses 1.</summary>
    public int StepsOffset { get; init; }

    /// <summary>Checks the ranges, naming diffusers' keys.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Clipping.Validate();
        if (StepsOffset < 0) throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
    }
}
