using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// Min-SNR-gamma loss weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy"):
/// each sample's MSE is weighted by min(SNR(t), gamma) over the weight its target already carries relative to x_0.
/// </summary>
public static class MinSnrWeighting
{
    /// <summary>
    /// The per-sample weight (eq. 9): min(SNR, gamma)/SNR for epsilon targets, min(SNR, gamma)/(SNR + 1) for v targets,
    /// min(SNR, gamma) for x_0 targets.
    /// </summary>
    /// <param name="snr">SNR(t) = alpha_bar_t / (1 - alpha_bar_t) per sample, [B].</param>
    /// <param name="gamma">The clamp, e.g. 5.</param>
    /// <param name="type">What the network predicts.</param>
    /// <returns>[B] weights.</returns>
    public static Tensor Weight(Tensor snr, double gamma, PredictionType type)
    {
        using var clipped = snr.clamp(max: gamma);
        return type switch
        {
            PredictionType.Epsilon => clipped / snr,
            PredictionType.VPrediction => clipped / (snr + 1),
            PredictionType.Sample => clipped.clone(),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }
}
