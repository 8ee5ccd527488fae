using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Samplers;
using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// A text-to-image pipeline's architecture without weights: the UNet, CLIP text encoder and VAE configs and the scheduler
/// config, with the parameter counts the model's publishers give (null for our own small presets). Built with random weights
/// for benchmarks: the speed of a network does not depend on its weights.
/// </summary>
/// <param name="Name">The preset's name.</param>
/// <param name="Unet">The denoiser's architecture.</param>
/// <param name="TextEncoder">The CLIP text model's architecture.</param>
/// <param name="Vae">The autoencoder's architecture.</param>
/// <param name="SchedulerConfigJson">The pipeline's <c>scheduler/scheduler_config.json</c>.</param>
/// <param name="Published">The published parameter counts, or null.</param>
public sealed record TextToImagePreset(string Name, UNet2DConditionConfig Unet, ClipTextConfig TextEncoder, AutoencoderKLConfig Vae,
    string SchedulerConfigJson, PipelineParameterCounts? Published)
{
    /// <summary>Image size / latent size.</summary>
    public int VaeScaleFactor => Vae.DownsamplingFactor;

    /// <summary>The default image side: unet <c>sample_size</c> · <see cref="VaeScaleFactor"/>, as diffusers.</summary>
    public int DefaultSize => (Unet.SampleSize ?? 64) * VaeScaleFactor;

    /// <summary>Counts the parameters of the three networks built on the meta device (shapes only: nothing is allocated).</summary>
    public PipelineParameterCounts CountParameters()
    {
        var meta = new Device(TorchSharp.DeviceType.META);
        using var unet = new UNet2DConditionModel(Unet, meta);
        using var text = new ClipTextModel(TextEncoder, meta);
        using var vae = new AutoencoderKL(Vae, meta);
        return new PipelineParameterCounts(unet.parameters().Sum(p => p.numel()), text.parameters().Sum(p => p.numel()),
            vae.parameters().Sum(p => p.numel()));
    }

    /// <summary>Checks counted parameters against <see cref="Published"/> (nothing to check when null).</summary>
    /// <exception cref="InvalidOperationException">A count differs: the architecture is not the published one.</exception>
    public void CheckPublished(PipelineParameterCounts counted)
    {
        ArgumentNullException.ThrowIfNull(counted);
        if (Published is not { } published) return;
        foreach (var (network, expected, actual) in new[]
                 {
                     ("UNet", published.Unet, counted.Unet), ("text encoder", published.TextEncoder, counted.TextEncoder), ("VAE", published.Vae, counted.Vae),
                 })
        {
            if (expected != actual)
                throw new InvalidOperationException($"{Name}: the {network} has {actual:N0} parameters, the published architecture {expected:N0}; the preset is wrong");
        }
    }

    /// <summary>
    /// Builds the pipeline with random weights: the UNet and VAE from the global generator seeded with <paramref name="seed"/>
    /// (each module's default init), the text model from a generator seeded alike (transformers' init); all in eval mode.
    /// </summary>
    /// <param name="seed">The seed of the weights.</param>
    /// <param name="samplerName">A sampler over the preset's training schedule; null = the preset's own scheduler.</param>
    /// <param name="device">Where the networks live; null = the CPU.</param>
    /// <exception cref="InvalidInputException">An unknown sampler name.</exception>
    public TextToImageComponents Build(long seed = 0, string? samplerName = null, Device? device = null)
    {
        var scheduler = SchedulerFactory.FromConfigJson(SchedulerConfigJson, samplerName);
        ClipTextModel? text = null;
        UNet2DConditionModel? unet = null;
        try
        {
            using var generator = new Generator((ulong)seed);
            text = new ClipTextModel(TextEncoder, device, generator);
            text.eval();
            TorchSharp.torch.random.manual_seed(seed);
            unet = new UNet2DConditionModel(Unet, device);
            unet.eval();
            var vae = new AutoencoderKL(Vae, device);
            vae.eval();
            return new TextToImageComponents(text, unet, vae, scheduler);
        }
        catch
        {
            text?.Dispose();
            unet?.Dispose();
            throw;
        }
    }
}
