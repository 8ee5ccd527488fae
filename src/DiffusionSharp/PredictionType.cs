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

    /// <summary>
    /// <c>flow_prediction</c>: the velocity dx_σ/dσ = eps - x_0 of the straight path x_σ = (1 - σ)·x_0 + σ·eps (rectified
    /// flow); what flow-matching networks predict (diffusers' name, 0.32 on).
    /// </summary>
    FlowPrediction,
}

/// <summary>Conversions between <see cref="PredictionType"/> and diffusers' strings.</summary>
public static class PredictionTypes
{
    /// <summary>Parses diffusers' <c>prediction_type</c>.</summary>
    /// <exception cref="InvalidInputException">Not epsilon, sample, v_prediction or flow_prediction.</exception>
    public static PredictionType Parse(string name, string source = "prediction_type") => name switch
    {
        "epsilon" => PredictionType.Epsilon,
        "sample" => PredictionType.Sample,
        "v_prediction" => PredictionType.VPrediction,
        "flow_prediction" => PredictionType.FlowPrediction,
        _ => throw new InvalidInputException($"{source}: unknown prediction type '{name}' (expected epsilon, sample, v_prediction or flow_prediction)"),
    };

    /// <summary>diffusers' string for a prediction type.</summary>
    public static string ToDiffusersName(this PredictionType type) => type switch
    {
        PredictionType.Epsilon => "epsilon",
        PredictionType.Sample => "sample",
        PredictionType.VPrediction => "v_prediction",
        PredictionType.FlowPrediction => "flow_prediction",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
