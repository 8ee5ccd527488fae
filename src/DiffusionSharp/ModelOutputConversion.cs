using DiffusionSharp.Samplers;
using static TorchSharp.torch;

namespace DiffusionSharp;

/// <summary>
/// The one place that turns what the network predicts (epsilon, x_0 or v) into the predicted clean sample x_0 and the
/// predicted noise eps, given the noise level of x_t: for every sampler, and (with per-sample scales) for training.
/// </summary>
/// <remarks>
/// Notation: x_t = alpha_t·x_0 + sigma_t·eps with alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t)
/// (Ho et al. 2020, eq. 4), and v = alpha_t·eps - sigma_t·x_0 (Salimans and Ho 2022, section 4). The Euler-type samplers
/// hold the variance-exploding variable x = x_t/alpha_t with noise level σ = sigma_t/alpha_t instead (Karras et al. 2022),
/// see <see cref="PredictOriginalSampleVe"/>.
/// The tensor arithmetic is float32 in the order diffusers uses, so results match diffusers bit for bit when the scales
/// come from <see cref="ScalesFromAlphaBar"/>. Inputs are [B, ...]; every method returns a fresh tensor (an alias when the
/// value is an input) and disposes nothing.
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
    /// <see cref="PredictOriginalSample(PredictionType, Tensor, Tensor, double, double)"/> with one scale per batch item:
    /// <paramref name="alpha"/> and <paramref name="sigma"/> [B, 1, ...] broadcast against the sample (training, where every
    /// sample has its own timestep).
    /// </summary>
    public static Tensor PredictOriginalSample(PredictionType type, Tensor modelOutput, Tensor sample, Tensor alpha, Tensor sigma) => type switch
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

    /// <summary>
    /// The same x_0 in the variance-exploding variable of the Euler-type samplers: the denoised estimate D(x; σ) of
    /// x = x_0 + σ·eps, where the network saw x / sqrt(σ² + 1). A fresh tensor (a copy for sample).
    /// </summary>
    /// <param name="type">What the model predicts.</param>
    /// <param name="modelOutput">The model output.</param>
    /// <param name="sample">x, the VE sample.</param>
    /// <param name="sigma">σ the epsilon and v conversions use.</param>
    public static Tensor PredictOriginalSampleVe(PredictionType type, Tensor modelOutput, Tensor sample, double sigma)
    {
        switch (type)
        {
            case PredictionType.Epsilon:
                // x_0 = x - σ·ε
                return sample - modelOutput * sigma;
            case PredictionType.VPrediction:
            {
                // c_skip = 1/(σ² + 1), c_out = -σ/sqrt(σ² + 1) (Karras et al. 2022, table 1, with σ_data = 1)
                double s2 = sigma * sigma + 1;
                using var skip = sample / s2;
                using var scaledOut = modelOutput * (-sigma / Math.Sqrt(s2));
                return scaledOut + skip;
            }
            case PredictionType.Sample:
                return modelOutput.clone();
            default:
                throw new ArgumentOutOfRangeException(nameof(type));
        }
    }
}
