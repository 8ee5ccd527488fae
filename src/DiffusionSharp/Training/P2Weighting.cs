using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// P2 loss weighting (Choi et al. 2022, "Perception Prioritized Training of Diffusion Models", eq. 8): the epsilon-loss of
/// each sample is weighted by (k + SNR(t))^-γ, which lowers the weight of the nearly clean steps where the network only
/// removes imperceptible noise and shifts it to the coarse, content-forming ones.
/// </summary>
/// <remarks>
/// The paper states the weight for the epsilon-MSE. For the other targets the same objective is kept: the x_0-MSE is
/// SNR times smaller than the epsilon-MSE and the v-MSE is SNR/(SNR + 1) times, so their weights carry those factors
/// (as <see cref="MinSnrWeighting"/> does for min-SNR).
/// </remarks>
public static class P2Weighting
{
    /// <summary>The per-sample weight for a network that predicts <paramref name="type"/>.</summary>
    /// <param name="snr">SNR(t) = alpha_bar_t / (1 - alpha_bar_t) per sample, [B].</param>
    /// <param name="gamma">γ (1 or 0.5 in the paper).</param>
    /// <param name="k">k (1 in the paper).</param>
    /// <param name="type">What the network predicts.</param>
    /// <returns>[B] weights.</returns>
    public static Tensor Weight(Tensor snr, double gamma, double k, PredictionType type)
    {
        using var shifted = snr + k;
        using var epsilonWeight = shifted.pow(-gamma);
        return type switch
        {
            PredictionType.Epsilon => epsilonWeight.clone(),
            PredictionType.Sample => epsilonWeight * snr,
            PredictionType.VPrediction => epsilonWeight * snr / (snr + 1),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }
}
