namespace DiffusionSharp;

/// <summary>What the network is trained to predict (diffusers' <c>prediction_type</c>).</summary>
public enum PredictionType
{
    /// <summary><c>epsilon</c>: the noise that was added (Ho et al. 2020).</summary>
    Epsilon,

    /// <summary><c>sample</c>: the clean sample x_0 directly.</summary>
    Sample,

    /// <summary><c>v_prediction</c>: v = sqrt(alpha_bar)·eps - sqrt(1 - alpha_bar)·x_0 (Salimans and Ho 2022, section 4).</summary>
    VPrediction,
}

/// <summary>Conversions between <see cref="PredictionType"/> and diffusers' strings.</summary>
public static class PredictionTypes
{
    /// <summary>Parses diffusers' <c>prediction_type</c>.</summary>
    /// <exception cref="InvalidInputException">Not epsilon, sample or v_prediction.</exception>
    public static PredictionType Parse(string name, string source = "prediction_type") => name switch
    {
        "epsilon" => PredictionType.Epsilon,
        "sample" => PredictionType.Sample,
        "v_prediction" => PredictionType.VPrediction,
        _ => throw new InvalidInputException($"{source}: unknown prediction type '{name}' (expected epsilon, sample or v_prediction)"),
    };

    /// <summary>diffusers' string for a prediction type.</summary>
    public static string ToDiffusersName(this PredictionType type) => type switch
    {
        PredictionType.Epsilon => "epsilon",
        PredictionType.Sample => "sample",
        PredictionType.VPrediction => "v_prediction",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
