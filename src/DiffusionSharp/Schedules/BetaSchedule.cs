namespace DiffusionSharp.Schedules;

/// <summary>How the noise variances beta_1..beta_T grow over the training timesteps (diffusers' <c>beta_schedule</c>).</summary>
public enum BetaSchedule
{
    /// <summary><c>linear</c>: evenly spaced from beta_start to beta_end (Ho et al. 2020).</summary>
    Linear,

    /// <summary><c>scaled_linear</c>: evenly spaced square roots, squared (latent diffusion / Stable Diffusion).</summary>
    ScaledLinear,

    /// <summary><c>squaredcos_cap_v2</c>, also called <c>cosine</c>: alpha_bar(t) = cos²((t/T + s)/(1 + s)·π/2), betas capped at 0.999 (Nichol and Dhariwal 2021).</summary>
    SquaredCosCapV2,

    /// <summary><c>sigmoid</c>: beta_start + (beta_end - beta_start)·sigmoid(linspace(-6, 6)) (GeoDiff).</summary>
    Sigmoid,
}

/// <summary>Conversions between <see cref="BetaSchedule"/> and diffusers' option strings.</summary>
public static class BetaScheduleNames
{
    /// <summary>The names accepted on the command line and in config files.</summary>
    public static IReadOnlyList<string> Known { get; } = ["linear", "scaled_linear", "squaredcos_cap_v2", "cosine", "sigmoid"];

    /// <summary>Parses diffusers' <c>beta_schedule</c> string; <c>cosine</c> is an alias of <c>squaredcos_cap_v2</c>.</summary>
    /// <exception cref="InvalidInputException">The name is not one of <see cref="Known"/>.</exception>
    public static BetaSchedule Parse(string name, string source = "beta_schedule") => name switch
    {
        "linear" => BetaSchedule.Linear,
        "scaled_linear" => BetaSchedule.ScaledLinear,
        "squaredcos_cap_v2" or "cosine" => BetaSchedule.SquaredCosCapV2,
        "sigmoid" => BetaSchedule.Sigmoid,
        _ => throw new InvalidInputException($"{source}: unknown beta schedule '{name}' (expected one of: {string.Join(", ", Known)})"),
    };

    /// <summary>diffusers' string for a schedule, as written to <c>scheduler_config.json</c>.</summary>
    public static string ToDiffusersName(this BetaSchedule schedule) => schedule switch
    {
        BetaSchedule.Linear => "linear",
        BetaSchedule.ScaledLinear => "scaled_linear",
        BetaSchedule.SquaredCosCapV2 => "squaredcos_cap_v2",
        BetaSchedule.Sigmoid => "sigmoid",
        _ => throw new ArgumentOutOfRangeException(nameof(schedule)),
    };
}
