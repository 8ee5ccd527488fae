namespace DiffusionSharp;

/// <summary>
/// The family of training objective a network was trained with, which decides the samplers it pairs with (shared
/// vocabulary of Training and Samplers).
/// </summary>
public enum FormulationKind
{
    /// <summary>
    /// Discrete-time variance-preserving diffusion (Ho et al. 2020): integer timesteps 0..T-1 over a beta schedule,
    /// x_t = sqrt(alpha_bar_t)·x_0 + sqrt(1 - alpha_bar_t)·eps, the network predicting eps, x_0 or v. Every DDPM-family
    /// sampler (DDPM, DDIM, DPM-Solver, UniPC, PNDM, Euler, Heun) samples it.
    /// </summary>
    Ddpm,

    /// <summary>
    /// Rectified flow / flow matching (Liu et al. 2022; Lipman et al. 2022; Esser et al. 2024, SD3): continuous noise level
    /// σ in (0, 1], x_σ = (1 - σ)·x_0 + σ·eps, the network predicting the velocity eps - x_0 (diffusers'
    /// <c>flow_prediction</c>). Sampled by the FlowMatch schedulers.
    /// </summary>
    Flow,

    /// <summary>
    /// EDM (Karras et al. 2022): continuous σ, x = x_0 + σ·eps, the network F preconditioned as
    /// D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ)). Sampled by the EDM schedulers, which apply the
    /// preconditioning themselves, so the network is a plain one.
    /// </summary>
    Edm,
}

/// <summary>Conversions between <see cref="FormulationKind"/> and its names (<c>ddpm</c>, <c>flow</c>, <c>edm</c>).</summary>
public static class FormulationKinds
{
    /// <summary>Every formulation, in the order help texts list them.</summary>
    public static IReadOnlyList<FormulationKind> All { get; } = Enum.GetValues<FormulationKind>();

    /// <summary>The lower-case name (<c>ddpm</c>, <c>flow</c>, <c>edm</c>).</summary>
    public static string ToName(this FormulationKind kind) => kind switch
    {
        FormulationKind.Ddpm => "ddpm",
        FormulationKind.Flow => "flow",
        FormulationKind.Edm => "edm",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Parses a name; <paramref name="property"/> (<c>Type.Member</c>) is what the error names.</summary>
    /// <exception cref="InvalidInputException">Not ddpm, flow or edm.</exception>
    public static FormulationKind Parse(string name, string property) =>
        All.Cast<FormulationKind?>().FirstOrDefault(k => k!.Value.ToName() == name)
        ?? throw new InvalidInputException(
            $"{InvalidInputException.MemberOf(property)}: unknown formulation '{name}' (expected {string.Join(", ", All.Select(k => k.ToName()))})", property);
}
