using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The options of <see cref="UniPCMultistepScheduler"/>, with diffusers' defaults
/// (<c>UniPCMultistepScheduler</c> config keys in brackets).
/// </summary>
/// <param name="Schedule">The training noise schedule (num_train_timesteps, beta_*, trained_betas, rescale_betas_zero_snr).</param>
/// <param name="PredictionType">What the model predicts (prediction_type).</param>
/// <param name="SolverOrder">The order p of UniP (solver_order); with the corrector the accuracy is of order p + 1. 2 for guided sampling, 3 can help unconditional sampling.</param>
/// <param name="PredictX0">Integrate the data prediction x_θ (true, diffusers' default) or the noise prediction ε_θ (predict_x0).</param>
/// <param name="SolverType">bh1 or bh2 (solver_type).</param>
/// <param name="LowerOrderFinal">Lower the order in the last steps, so that the last step is first order (lower_order_final).</param>
/// <param name="DisableCorrector">Step indices i whose result is not corrected by UniC at step i + 1 (disable_corrector); empty when null.</param>
/// <param name="UseKarrasSigmas">Space the noise levels as in Karras et al. 2022, eq. 5, with rho = 7 (use_karras_sigmas).</param>
/// <param name="TimestepSpacing">linspace, leading or trailing (timestep_spacing).</param>
/// <param name="StepsOffset">Added to leading timesteps (steps_offset).</param>
/// <param name="FinalSigmas">zero or sigma_min (final_sigmas_type).</param>
public sealed record UniPCMultistepOptions(
    NoiseScheduleConfig Schedule,
    PredictionType PredictionType = PredictionType.Epsilon,
    int SolverOrder = 2,
    bool PredictX0 = true,
    UniPCSolverType SolverType = UniPCSolverType.Bh2,
    bool LowerOrderFinal = true,
    IReadOnlyList<int>? DisableCorrector = null,
    bool UseKarrasSigmas = false,
    TimestepSpacing TimestepSpacing = TimestepSpacing.Linspace,
    int StepsOffset = 0,
    FinalSigmasType FinalSigmas = FinalSigmasType.Zero) : ISamplerOptions
{
    /// <summary>The largest <see cref="SolverOrder"/> accepted; diffusers takes any, but beyond 3 the extrapolation only amplifies errors.</summary>
    public const int MaxSolverOrder = 6;

    /// <summary>diffusers' defaults with the default linear schedule (beta 0.0001 to 0.02 over 1000 steps).</summary>
    public UniPCMultistepOptions() : this(new NoiseScheduleConfig()) { }

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (SolverOrder is < 1 or > MaxSolverOrder)
            throw new InvalidInputException($"solver_order must lie in [1, {MaxSolverOrder}] (got {SolverOrder})");
        if (StepsOffset < 0)
            throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
    }
}
