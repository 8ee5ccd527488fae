using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The options of <see cref="EulerAncestralDiscreteScheduler"/>, with diffusers' defaults (config keys in brackets).</summary>
/// <param name="Schedule">The training noise schedule (num_train_timesteps, beta_*, trained_betas, rescale_betas_zero_snr).</param>
/// <param name="PredictionType">What the model predicts (prediction_type).</param>
/// <param name="TimestepSpacing">linspace, leading or trailing (timestep_spacing).</param>
/// <param name="StepsOffset">Added to leading timesteps (steps_offset).</param>
public sealed record EulerAncestralDiscreteOptions(
    NoiseScheduleConfig Schedule,
    PredictionType PredictionType = PredictionType.Epsilon,
    TimestepSpacing TimestepSpacing = TimestepSpacing.Linspace,
    int StepsOffset = 0) : ISamplerOptions
{
    /// <summary>diffusers' defaults with the default linear schedule.</summary>
    public EulerAncestralDiscreteOptions() : this(new NoiseScheduleConfig()) { }

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (StepsOffset < 0) throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
    }
}
