namespace DiffusionSharp.Samplers;

/// <summary>The variance of DDPM's reverse step p(x_{t-1} | x_t) (diffusers' <c>variance_type</c>; Ho et al. 2020, section 3.2).</summary>
public enum DDPMVarianceType
{
    /// <summary><c>fixed_small</c>: the posterior variance beta~_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) · beta_t, the lower bound.</summary>
    FixedSmall,

    /// <summary><c>fixed_small_log</c>: the same variance, its standard deviation computed as exp(log(beta~_t) / 2).</summary>
    FixedSmallLog,

    /// <summary><c>fixed_large</c>: beta_t, the upper bound.</summary>
    FixedLarge,
}

/// <summary>Conversions between <see cref="DDPMVarianceType"/> and diffusers' strings.</summary>
public static class DDPMVarianceTypes
{
    /// <summary>Parses diffusers' <c>variance_type</c>.</summary>
    /// <exception cref="InvalidInputException">Unknown, or a type this port does not support (learned variances, the broken fixed_large_log).</exception>
    public static DDPMVarianceType Parse(string name, string source = "variance_type") => name switch
    {
        "fixed_small" => DDPMVarianceType.FixedSmall,
        "fixed_small_log" => DDPMVarianceType.FixedSmallLog,
        "fixed_large" => DDPMVarianceType.FixedLarge,
        "learned" or "learned_range" => throw new InvalidInputException(
            $"{source}: '{name}' is not supported (it needs a model that also predicts its variance); use fixed_small, fixed_small_log or fixed_large"),
        "fixed_large_log" => throw new InvalidInputException(
            $"{source}: 'fixed_large_log' is not supported (diffusers takes the square root of log(beta), which is NaN); use fixed_large"),
        _ => throw new InvalidInputException($"{source}: unknown variance type '{name}' (expected fixed_small, fixed_small_log or fixed_large)"),
    };

    /// <summary>diffusers' string for a variance type.</summary>
    public static string ToDiffusersName(this DDPMVarianceType type) => type switch
    {
        DDPMVarianceType.FixedSmall => "fixed_small",
        DDPMVarianceType.FixedSmallLog => "fixed_small_log",
        DDPMVarianceType.FixedLarge => "fixed_large",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
