using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The update steps of multistep DPM-Solver++ (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of
/// Diffusion Probabilistic Models", algorithms 2 and 3, in data-prediction form) for any Gaussian path
/// x_t = α_t·x_0 + σ_t·ε: the variance-preserving one of <see cref="DPMSolverMultistepScheduler"/> and EDM's
/// α_t = 1, σ_t = σ of <see cref="EDMDPMSolverMultistepScheduler"/> (diffusers' <c>_sigma_to_alpha_sigma_t</c>).
/// </summary>
/// <remarks>
/// Notation (variable → paper): <c>t</c>, <c>s0</c>, <c>s1</c>, <c>s2</c> → the noise level stepped to and the current
/// and earlier ones, each (α, σ, λ = log(α/σ)); <c>h</c> → λ_t - λ_s0, the step in λ; <c>m0</c>, <c>m1</c>, <c>m2</c> → x_θ
/// at the current and the one and two earlier levels; <c>d1</c>, <c>d2</c> → the divided differences D_1, D_2 of x_θ in λ
/// (scaled by h); <c>r0</c>, <c>r1</c> → h_{i-1}/h_i. A step to σ_t = 0 has λ_t = +∞ and returns m0. The arithmetic is
/// diffusers' operation order; every method returns a fresh tensor and disposes nothing.
/// </remarks>
internal static class DpmSolverPlusPlus
{
    /// <summary>
    /// <c>algorithm_type</c>: dpmsolver++ or sde-dpmsolver++ (diffusers maps deis to dpmsolver++ as well); the non-++
    /// algorithms are refused.
    /// </summary>
    /// <exception cref="InvalidInputException">Another algorithm.</exception>
    public static DpmSolverAlgorithm ReadAlgorithm(SchedulerConfigReader r) => r.String("algorithm_type", "dpmsolver++") switch
    {
        "dpmsolver++" or "deis" => DpmSolverAlgorithm.DpmSolverPlusPlus,
        "sde-dpmsolver++" => DpmSolverAlgorithm.SdeDpmSolverPlusPlus,
        var other => throw r.Invalid($"algorithm_type '{other}' is not supported (expected dpmsolver++ or sde-dpmsolver++)"),
    };

    /// <summary><c>solver_type</c>: midpoint or heun (diffusers maps logrho, bh1 and bh2 to midpoint).</summary>
    /// <exception cref="InvalidInputException">Another solver type.</exception>
    public static DpmSolverType ReadSolverType(SchedulerConfigReader r) => r.String("solver_type", "midpoint") switch
    {
        "midpoint" or "logrho" or "bh1" or "bh2" => DpmSolverType.Midpoint,
        "heun" => DpmSolverType.Heun,
        var other => throw r.Invalid($"solver_type '{other}' is not supported (expected midpoint or heun)"),
    };

    /// <summary>First order: DDIM in λ (Lu et al. 2022b, eq. 5), or its SDE counterpart when <paramref name="noise"/> is given.</summary>
    public static Tensor FirstOrder(Tensor m0, Tensor sample, NoiseLevel t, NoiseLevel s0, Tensor? noise)
    {
        double h = t.Lambda - s0.Lambda;
        if (noise is null)
            return sample * (t.Sigma / s0.Sigma) - m0 * (t.Alpha * (Math.Exp(-h) - 1.0));
        return sample * (t.Sigma / s0.Sigma * Math.Exp(-h))
            + m0 * (t.Alpha * (1 - Math.Exp(-2.0 * h)))
            + noise * (t.Sigma * Math.Sqrt(1.0 - Math.Exp(-2.0 * h)));
    }

    /// <summary>Second-order multistep update (algorithm 2), midpoint or Heun weighting of D_1; the SDE variant with <paramref name="noise"/>.</summary>
    public static Tensor SecondOrder(Tensor m0, Tensor m1, Tensor sample, NoiseLevel t, NoiseLevel s0, NoiseLevel s1, DpmSolverType type, Tensor? noise)
    {
        double h = t.Lambda - s0.Lambda, h0 = s0.Lambda - s1.Lambda;
        double r0 = h0 / h;
        using var d1 = (m0 - m1) * (1.0 / r0);
        bool midpoint = type == DpmSolverType.Midpoint;
        if (noise is null)
        {
            double c = t.Alpha * (Math.Exp(-h) - 1.0);
            double c1 = midpoint ? -0.5 * c : t.Alpha * ((Math.Exp(-h) - 1.0) / h + 1.0);
            return sample * (t.Sigma / s0.Sigma) - m0 * c + d1 * c1;
        }
        double e = t.Alpha * (1 - Math.Exp(-2.0 * h));
        double e1 = midpoint ? 0.5 * e : t.Alpha * ((1.0 - Math.Exp(-2.0 * h)) / (-2.0 * h) + 1.0);
        return sample * (t.Sigma / s0.Sigma * Math.Exp(-h))
            + m0 * e
            + d1 * e1
            + noise * (t.Sigma * Math.Sqrt(1.0 - Math.Exp(-2.0 * h)));
    }

    /// <summary>Third-order multistep update (Lu et al. 2022a, algorithm 3, in data-prediction form); deterministic only.</summary>
    public static Tensor ThirdOrder(Tensor m0, Tensor m1, Tensor m2, Tensor sample, NoiseLevel t, NoiseLevel s0, NoiseLevel s1, NoiseLevel s2)
    {
        double h = t.Lambda - s0.Lambda, h0 = s0.Lambda - s1.Lambda, h1 = s1.Lambda - s2.Lambda;
        double r0 = h0 / h, r1 = h1 / h;
        using var d10 = (m0 - m1) * (1.0 / r0);
        using var d11 = (m1 - m2) * (1.0 / r1);
        using var diff = d10 - d11;
        using var d1 = d10 + diff * (r0 / (r0 + r1));
        using var d2 = diff * (1.0 / (r0 + r1));
        double eh = Math.Exp(-h) - 1.0;
        return sample * (t.Sigma / s0.Sigma)
            - m0 * (t.Alpha * eh)
            + d1 * (t.Alpha * (eh / h + 1.0))
            - d2 * (t.Alpha * ((eh + h) / (h * h) - 0.5));
    }
}

/// <summary>A noise level of the Gaussian path x_t = α_t·x_0 + σ_t·ε, with λ_t = log α_t - log σ_t (+∞ at σ_t = 0).</summary>
internal readonly record struct NoiseLevel(double Alpha, double Sigma, double Lambda)
{
    /// <summary>The level of (α, σ), with its λ.</summary>
    public static NoiseLevel Of(double alpha, double sigma) => new(alpha, sigma, Math.Log(alpha) - Math.Log(sigma));
}
