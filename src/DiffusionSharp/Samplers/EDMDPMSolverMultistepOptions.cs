using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The options of <see cref="EDMDPMSolverMultistepScheduler"/>, with diffusers' defaults (config keys in brackets).</summary>
/// <param name="Schedule">The noise levels and σ_data (sigma_min, sigma_max, sigma_data, sigma_schedule, num_train_timesteps, rho).</param>
/// <param name="PredictionType">epsilon or v_prediction: the sign of c_out (prediction_type).</param>
/// <param name="SolverOrder">1, 2 or 3 (solver_order).</param>
/// <param name="Algorithm">dpmsolver++ or sde-dpmsolver++ (algorithm_type).</param>
/// <param name="SolverType">midpoint or heun weighting of the second-order term (solver_type).</param>
/// <param name="LowerOrderFinal">First order for the last steps of runs under 15 steps (lower_order_final).</param>
/// <param name="EulerAtFinal">First order for the very last step (euler_at_final).</param>
/// <param name="FinalSigmas">zero or sigma_min (final_sigmas_type).</param>
public sealed record EDMDPMSolverMultistepOptions(
    EdmSchedule Schedule,
    PredictionType PredictionType = PredictionType.Epsilon,
    int SolverOrder = 2,
    DpmSolverAlgorithm Algorithm = DpmSolverAlgorithm.DpmSolverPlusPlus,
    DpmSolverType SolverType = DpmSolverType.Midpoint,
    bool LowerOrderFinal = true,
    bool EulerAtFinal = false,
    FinalSigmasType FinalSigmas = FinalSigmasType.Zero)
{
    /// <summary>diffusers' defaults.</summary>
    public EDMDPMSolverMultistepOptions() : this(new EdmSchedule()) { }

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        if (SolverOrder is < 1 or > 3) throw new InvalidInputException($"solver_order must be 1, 2 or 3 (got {SolverOrder})");
        if (SolverOrder == 3 && Algorithm == DpmSolverAlgorithm.SdeDpmSolverPlusPlus)
            throw new InvalidInputException("solver_order 3 is not supported with algorithm_type sde-dpmsolver++ (diffusers has no third-order SDE step)");
    }
}
