using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The options of <see cref="PNDMScheduler"/>, with diffusers' defaults (config keys in brackets).</summary>
/// <param name="Schedule">The training noise schedule (num_train_timesteps, beta_*, trained_betas).</param>
/// <param name="SkipPrkSteps">Start with pseudo linear multistep steps instead of the Runge-Kutta warm-up (skip_prk_steps), as Stable Diffusion's PLMS does.</param>
/// <param name="SetAlphaToOne">Use alpha_bar = 1 for the step past timestep 0, instead of alpha_bar_0 (set_alpha_to_one).</param>
/// <param name="PredictionType">epsilon or v_prediction (prediction_type).</param>
/// <param name="TimestepSpacing">linspace, leading or trailing (timestep_spacing).</param>
/// <param name="StepsOffset">Added to leading timesteps (steps_offset).</param>
public sealed record PNDMOptions(
    NoiseScheduleConfig Schedule,
    bool SkipPrkSteps = false,
    bool SetAlphaToOne = false,
    PredictionType PredictionType = PredictionType.Epsilon,
    TimestepSpacing TimestepSpacing = TimestepSpacing.Leading,
    int StepsOffset = 0)
{
    /// <summary>diffusers' defaults with the default linear schedule.</summary>
    public PNDMOptions() : this(new NoiseScheduleConfig()) { }

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (Schedule.RescaleBetasZeroSnr)
            throw new InvalidInputException("rescale_betas_zero_snr is not supported by PNDMScheduler");
        if (PredictionType == PredictionType.Sample)
            throw new InvalidInputException("prediction_type 'sample' is not supported by PNDMScheduler (expected epsilon or v_prediction)");
        if (StepsOffset < 0) throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
    }
}
