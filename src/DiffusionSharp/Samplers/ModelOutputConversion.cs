using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The conversion every sampler shares: from what the network predicts (epsilon, x_0 or v) to the predicted clean
/// sample x_0 and the predicted noise eps, given the noise level of x_t.
/// </summary>
/// <remarks>
/// Notation: x_t = alpha_t·x_0 + sigma_t·eps with alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t)
/// (Ho et al. 2020, eq. 4), and v = alpha_t·eps - sigma_t·x_0 (Salimans and Ho 2022, section 4).
/// The scales are scalars (doubles); the tensor arithmetic is float32 in the order diffusers uses, so results match
/// diffusers bit for bit when the scales come from <see cref="ScalesFromAlphaBar"/>.
/// Inputs are [B, C, H, W]; every method returns a fresh tensor (an alias when the value is an input) and disposes nothing.
/// </remarks>
public static class ModelOutputConversion
{
    /// <summary>
    /// (alpha_t, sigma_t) = (sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)) in float32, as diffusers computes
    /// <c>alpha_prod_t ** 0.5</c> and <c>(1 - alpha_prod_t) ** 0.5</c> on float32 tensors.
    /// </summary>
    public static (double Alpha, double Sigma) ScalesFromAlphaBar(double alphaBar)
    {
        float a = (float)alphaBar;
        return (MathF.Sqrt(a), MathF.Sqrt(1f - a));
    }

    /// <summary>
    /// The predicted x_0: (x_t - sigma_t·eps) / alpha_t for epsilon (Ho et al. 2020, eq. 15; DDIM eq. 12), the output
    /// itself for sample, alpha_t·x_t - sigma_t·v for v_prediction. Not clipped.
    /// </summary>
    public static Tensor PredictOriginalSample(PredictionType type, Tensor modelOutput, Tensor sample, double alpha, double sigma) => type switch
    {
        PredictionType.Epsilon => (sample - modelOutput * sigma) / alpha,
        PredictionType.Sample => modelOutput.alias(),
        PredictionType.VPrediction => sample * alpha - modelOutput * sigma,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>
    /// The predicted eps: the output itself for epsilon, (x_t - alpha_t·x_0) / sigma_t for sample (with the unclipped
    /// <paramref name="predOriginalSample"/>), alpha_t·v + sigma_t·x_t for v_prediction.
    /// </summary>
    public static Tensor PredictEpsilon(PredictionType type, Tensor modelOutput, Tensor sample, Tensor predOriginalSample, double alpha, double sigma) => type switch
    {
        PredictionType.Epsilon => modelOutput.alias(),
        PredictionType.Sample => (sample - predOriginalSample * alpha) / sigma,
        PredictionType.VPrediction => modelOutput * alpha + sample * sigma,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
