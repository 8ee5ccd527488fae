namespace DiffusionSharp.Samplers;

/// <summary>How the second-order multistep update uses the previous data prediction (diffusers' <c>solver_type</c>).</summary>
public enum DpmSolverType
{
    /// <summary><c>midpoint</c>: D1 weighted by a half (Lu et al. 2022b, algorithm 2); diffusers' recommended default.</summary>
    Midpoint,

    /// <summary><c>heun</c>: D1 weighted by (e^-h - 1)/h + 1, the exact integral of a linear interpolant.</summary>
    Heun,
}
