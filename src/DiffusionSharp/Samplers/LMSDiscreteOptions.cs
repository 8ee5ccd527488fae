using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The options of <see cref="LMSDiscreteScheduler"/>, with diffusers' defaults (config keys in brackets; the order is
/// diffusers' <c>step()</c> argument, fixed here for a whole run).
/// </summary>
/// <param name="Schedule">The training noise schedule (num_train_timesteps, beta_*, trained_betas).</param>
/// <param name="PredictionType">What the model predicts (prediction_type).</param>
/// <param name="UseKarrasSigmas">Karras et al. 2022 noise levels, rho = 7 (use_karras_sigmas).</param>
/// <param name="TimestepSpacing">linspace, leading or trailing (timestep_spacing).</param>
/// <param name="StepsOffset">Added to leading timesteps (steps_offset).</param>
/// <param name="LmsOrder">How many past derivatives the linear multistep formula combines (step's <c>order</c>, 1 to 4).</param>
public sealed record LMSDiscreteOptions(
    NoiseScheduleConfig Schedule,
    PredictionType PredictionType = PredictionType.Epsilon,
    bool UseKarrasSigmas = false,
    TimestepSpacing TimestepSpacing = TimestepSpacing.Linspace,
    int StepsOffset = 0,
    int LmsOrder = 4) : ISamplerOptions
{
    /// <summary>diffusers' defaults with the default linear schedule.</summary>
    public LMSDiscreteOptions() : this(new NoiseScheduleConfig()) { }

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (Schedule.RescaleBetasZeroSnr)
            throw new InvalidInputException("rescale_betas_zero_snr is not supported by LMSDiscreteScheduler (its first sigma would be infinite)");
        if (StepsOffset < 0) throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
        if (LmsOrder is < 1 or > 4) throw InvalidInputException.For<LMSDiscreteOptions>(nameof(LmsOrder), $" must lie in [1, 4] (got {LmsOrder})");
    }
}
