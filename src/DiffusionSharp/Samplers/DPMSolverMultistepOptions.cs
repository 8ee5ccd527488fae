using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The options of <see cref="DPMSolverMultistepScheduler"/>, with diffusers' defaults
/// (<c>DPMSolverMultistepScheduler</c> config keys in brackets).
/// </summary>
/// <param name="Schedule">The training noise schedule (num_train_timesteps, beta_*, trained_betas, rescale_betas_zero_snr).</param>
/// <param name="PredictionType">What the model predicts (prediction_type).</param>
/// <param name="SolverOrder">1, 2 or 3 (solver_order); 2 for guided sampling, 3 can help unconditional sampling.</param>
/// <param name="Algorithm">dpmsolver++ or sde-dpmsolver++ (algorithm_type).</param>
/// <param name="SolverType">midpoint or heun for the second-order update (solver_type).</param>
/// <param name="LowerOrderFinal">Use lower orders in the last steps when there are fewer than 15 (lower_order_final); stabilises few-step sampling.</param>
/// <param name="EulerAtFinal">Always take a first-order last step (euler_at_final).</param>
/// <param name="UseKarrasSigmas">Space the noise levels as in Karras et al. 2022, eq. 5, with rho = 7 (use_karras_sigmas).</param>
/// <param name="FinalSigmas">zero or sigma_min (final_sigmas_type).</param>
/// <param name="LambdaMinClipped">Timesteps whose log-SNR/2 lies below this are never used (lambda_min_clipped); matters for the cosine schedule.</param>
/// <param name="TimestepSpacing">linspace, leading or trailing (timestep_spacing).</param>
/// <param name="StepsOffset">Added to leading timesteps (steps_offset).</param>
public sealed record DPMSolverMultistepOptions(
    NoiseScheduleConfig Schedule,
    PredictionType PredictionType = PredictionType.Epsilon,
    int SolverOrder = 2,
    DpmSolverAlgorithm Algorithm = DpmSolverAlgorithm.DpmSolverPlusPlus,
    DpmSolverType SolverType = DpmSolverType.Midpoint,
    bool LowerOrderFinal = true,
    bool EulerAtFinal = false,
    bool UseKarrasSigmas = false,
    FinalSigmasType FinalSigmas = FinalSigmasType.Zero,
    double LambdaMinClipped = double.NegativeInfinity,
    TimestepSpacing TimestepSpacing = TimestepSpacing.Linspace,
    int StepsOffset = 0) : ISamplerOptions
{
    /// <summary>diffusers' defaults with the default linear schedule (beta 0.0001 to 0.02 over 1000 steps).</summary>
    public DPMSolverMultistepOptions() : this(new NoiseScheduleConfig()) { }

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (SolverOrder is < 1 or > 3)
            throw new InvalidInputException($"solver_order must be 1, 2 or 3 (got {SolverOrder})");
        if (SolverOrder == 3 && Algorithm == DpmSolverAlgorithm.SdeDpmSolverPlusPlus)
            throw new InvalidInputException("solver_order 3 is not supported with algorithm_type sde-dpmsolver++ (use solver_order 1 or 2)");
        if (double.IsNaN(LambdaMinClipped))
            throw new InvalidInputException("lambda_min_clipped must be a number or -Infinity (got NaN)");
        if (StepsOffset < 0)
            throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
    }
}
