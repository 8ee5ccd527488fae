using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Samplers;

namespace DiffusionSharp.Pipelines;

/// <summary>The networks and the sampler of a text-to-image pipeline built from a <see cref="TextToImagePreset"/>; owns and disposes the networks.</summary>
/// <param name="TextModel">The CLIP text model, in eval mode.</param>
/// <param name="Unet">The denoiser over latents, in eval mode.</param>
/// <param name="Vae">The autoencoder, in eval mode.</param>
/// <param name="Scheduler">The sampler.</param>
public sealed record TextToImageComponents(ClipTextModel TextModel, UNet2DConditionModel Unet, IAutoencoder Vae, IScheduler Scheduler) : IDisposable
{
    /// <summary>The parameters of each network, counted on the built modules.</summary>
    public PipelineParameterCounts CountParameters() => new(
        Unet.parameters().Sum(p => p.numel()), TextModel.parameters().Sum(p => p.numel()), Vae.Module.parameters().Sum(p => p.numel()));

    /// <inheritdoc />
    public void Dispose()
    {
        TextModel.Dispose();
        Unet.Dispose();
        Vae.Dispose();
    }
}
