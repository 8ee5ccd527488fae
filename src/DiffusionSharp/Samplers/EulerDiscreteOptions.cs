using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The options of <see cref="EulerDiscreteScheduler"/>, with diffusers' defaults (config keys in brackets; the
/// <c>s_*</c> values are diffusers' <c>step()</c> arguments, fixed here for a whole run).
/// </summary>
/// <param name="Schedule">The training noise schedule (num_train_timesteps, beta_*, trained_betas, rescale_betas_zero_snr).</param>
/// <param name="PredictionType">What the model predicts (prediction_type).</param>
/// <param name="UseKarrasSigmas">Karras et al. 2022 noise levels, rho = 7 (use_karras_sigmas).</param>
/// <param name="SigmaMin">Lower end of the Karras range; null: the last timestep's sigma (sigma_min).</param>
/// <param name="SigmaMax">Upper end of the Karras range; null: the first timestep's sigma (sigma_max).</param>
/// <param name="TimestepSpacing">linspace, leading or trailing (timestep_spacing).</param>
/// <param name="StepsOffset">Added to leading timesteps (steps_offset).</param>
/// <param name="FinalSigmas">zero or sigma_min (final_sigmas_type).</param>
/// <param name="SChurn">Stochasticity S_churn of Karras et al. 2022, algorithm 2; 0 gives the deterministic Euler ODE solver.</param>
/// <param name="STmin">Churn only where sigma ≥ S_tmin.</param>
/// <param name="STmax">Churn only where sigma ≤ S_tmax.</param>
/// <param name="SNoise">S_noise, the scale of the churn noise.</param>
public sealed record EulerDiscreteOptions(
    NoiseScheduleConfig Schedule,
    PredictionType PredictionType = PredictionType.Epsilon,
    bool UseKarrasSigmas = false,
    double? SigmaMin = null,
    double? SigmaMax = null,
    TimestepSpacing TimestepSpacing = TimestepSpacing.Linspace,
    int StepsOffset = 0,
    FinalSigmasType FinalSigmas = FinalSigmasType.Zero,
    double SChurn = 0.0,
    double STmin = 0.0,
    double STmax = double.PositiveInfinity,
    double SNoise = 1.0) : ISamplerOptions
{
    /// <summary>diffusers' defaults with the default linear schedule.</summary>
    public EulerDiscreteOptions() : this(new NoiseScheduleConfig()) { }

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (StepsOffset < 0) throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
        if (SigmaMin is <= 0) throw new InvalidInputException($"sigma_min must be positive (got {SigmaMin})");
        if (SigmaMax is <= 0) throw new InvalidInputException($"sigma_max must be positive (got {SigmaMax})");
        if (SigmaMin is { } lo && SigmaMax is { } hi && lo >= hi)
            throw new InvalidInputException($"sigma_min ({lo}) must be below sigma_max ({hi})");
        if (!(SChurn >= 0)) throw new InvalidInputException($"s_churn must not be negative (got {SChurn})");
        if (!(SNoise >= 0)) throw new InvalidInputException($"s_noise must not be negative (got {SNoise})");
    }
}
