namespace DiffusionSharp.Pipelines;

/// <summary>The parameter counts of a Stable Diffusion pipeline's three networks.</summary>
/// <param name="Unet">The denoiser (<see cref="Models.UNet2DConditionModel"/>).</param>
/// <param name="TextEncoder">The CLIP text model.</param>
/// <param name="Vae">The autoencoder, encoder and decoder.</param>
public sealed record PipelineParameterCounts(long Unet, long TextEncoder, long Vae)
{
    /// <summary>All three together.</summary>
    public long Total => Unet + TextEncoder + Vae;
}
