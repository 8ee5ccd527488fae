namespace DiffusionSharp.Training;

/// <summary>How well the EMA autoencoder reconstructs the held-out images, and the latent scale it was measured with.</summary>
/// <param name="Step">The training step.</param>
/// <param name="HeldOutImages">Images scored (never trained on).</param>
/// <param name="PsnrDb">Mean over images of 10·log10(1 / MSE) on the [0, 1] pixel scale, decoding the posterior mean.</param>
/// <param name="LatentStd">Standard deviation of posterior samples z over up to 256 training images (all latent values pooled).</param>
/// <param name="ScalingFactor">1 / <paramref name="LatentStd"/>: LDM's rescaling, so that scaled latents have unit variance.</param>
public sealed record VaeReconstructionReport(int Step, int HeldOutImages, double PsnrDb, double LatentStd, double ScalingFactor);
