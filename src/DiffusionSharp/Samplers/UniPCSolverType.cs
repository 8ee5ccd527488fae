namespace DiffusionSharp.Samplers;

/// <summary>The B(h) of UniPC's update, the scale of its higher-order terms (diffusers' <c>solver_type</c>; Zhao et al. 2023, section 3.3).</summary>
public enum UniPCSolverType
{
    /// <summary><c>bh1</c>: B(h) = h; recommended for unconditional sampling with fewer than 10 steps.</summary>
    Bh1,

    /// <summary><c>bh2</c>: B(h) = e^h - 1; diffusers' default (the UniP-2 predictor is then DPM-Solver++(2M)).</summary>
    Bh2,
}
