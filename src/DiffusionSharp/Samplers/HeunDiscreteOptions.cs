using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The options of <see cref="HeunDiscreteScheduler"/>, with diffusers' defaults (config keys in brackets). Note that
/// diffusers' Heun defaults to beta_start 0.00085, beta_end 0.012 on a <em>linear</em> schedule.
/// </summary>
/// <param name="Schedule">The training noise schedule (num_train_timesteps, beta_*, trained_betas).</param>
/// <param name="PredictionType">What the model predicts (prediction_type).</param>
/// <param name="UseKarrasSigmas">Karras et al. 2022 noise levels, rho = 7 (use_karras_sigmas).</param>
/// <param name="ClipSample">Clamp the predicted x_0 to ±<paramref name="ClipSampleRange"/> (clip_sample).</param>
/// <param name="ClipSampleRange">The clamp bound (clip_sample_range).</param>
/// <param name="TimestepSpacing">linspace, leading or trailing (timestep_spacing).</param>
/// <param name="StepsOffset">Added to leading timesteps (steps_offset).</param>
public sealed record HeunDiscreteOptions(
    NoiseScheduleConfig Schedule,
    PredictionType PredictionType = PredictionType.Epsilon,
    bool UseKarrasSigmas = false,
    bool ClipSample = false,
    double ClipSampleRange = 1.0,
    TimestepSpacing TimestepSpacing = TimestepSpacing.Linspace,
    int StepsOffset = 0) : ISamplerOptions
{
    /// <summary>diffusers' HeunDiscreteScheduler schedule defaults: linear, beta 0.00085 to 0.012 over 1000 steps.</summary>
    public static NoiseScheduleConfig DefaultSchedule { get; } = new(BetaStart: 0.00085, BetaEnd: 0.012);

    /// <summary>diffusers' defaults.</summary>
    public HeunDiscreteOptions() : this(DefaultSchedule) { }

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (Schedule.RescaleBetasZeroSnr)
            throw new InvalidInputException("rescale_betas_zero_snr is not supported by HeunDiscreteScheduler (its first sigma would be infinite)");
        if (!(ClipSampleRange > 0)) throw new InvalidInputException($"clip_sample_range must be positive (got {ClipSampleRange})");
        if (StepsOffset < 0) throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
    }
}
