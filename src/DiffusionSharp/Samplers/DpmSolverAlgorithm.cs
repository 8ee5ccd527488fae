namespace DiffusionSharp.Samplers;

/// <summary>Which DPM-Solver variant <see cref="DPMSolverMultistepScheduler"/> runs (diffusers' <c>algorithm_type</c>).</summary>
public enum DpmSolverAlgorithm
{
    /// <summary><c>dpmsolver++</c>: the deterministic solver of the diffusion ODE in data-prediction form (Lu et al. 2022b, "DPM-Solver++").</summary>
    DpmSolverPlusPlus,

    /// <summary><c>sde-dpmsolver++</c>: the stochastic variant that solves the reverse SDE and injects fresh noise at every step (Lu et al. 2022b, appendix).</summary>
    SdeDpmSolverPlusPlus,
}
