using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The sampling options of <see cref="LCMScheduler"/>, with diffusers' defaults.</summary>
public sealed record LCMSchedulerOptions
{
    /// <summary>What the model predicts (<c>prediction_type</c>).</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary>What happens to the predicted x_0 before the boundary condition (<c>clip_sample</c>, off by default here as in diffusers, and thresholding).</summary>
    public SampleClipping Clipping { get; init; } = new(ClipSample: false);

    /// <summary>alpha_bar = 1 past the first training step (<c>set_alpha_to_one</c>); false uses alpha_bar_0.</summary>
    public bool SetAlphaToOne { get; init; } = true;

    /// <summary>
    /// The step count of the skipping-step grid the model was distilled on (<c>original_inference_steps</c>): the
    /// timesteps are drawn from k·T/original − 1, k = 1..original.
    /// </summary>
    public int OriginalInferenceSteps { get; init; } = 50;

    /// <summary>The factor on t in the boundary-condition scalings c_skip, c_out (<c>timestep_scaling</c>).</summary>
    public double TimestepScaling { get; init; } = 10.0;

    /// <summary>
    /// Kept in the config (<c>timestep_spacing</c>) as diffusers does; LCM's timesteps come from the skipping-step grid
    /// whatever its value.
    /// </summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading;

    /// <summary>Kept in the config (<c>steps_offset</c>); unused by LCM's timesteps, as in diffusers.</summary>
    public int StepsOffset { get; init; }

    /// <summary>Checks the ranges, naming diffusers' keys.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Clipping.Validate();
        if (StepsOffset < 0) throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
        if (OriginalInferenceSteps < 1) throw new InvalidInputException($"original_inference_steps must be at least 1 (got {OriginalInferenceSteps})");
        if (!(TimestepScaling > 0 && double.IsFinite(TimestepScaling)))
            throw new InvalidInputException($"timestep_scaling must be a positive number (got {TimestepScaling})");
    }
}
