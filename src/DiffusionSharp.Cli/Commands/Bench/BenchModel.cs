using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary>The network a benchmark runs, resolved from <c>--model</c>, with a sampler over its training schedule.</summary>
/// <param name="Name">The <c>--model</c> value.</param>
/// <param name="Model">The network; the caller disposes it.</param>
/// <param name="Scheduler">The sampler.</param>
/// <param name="Weights">"random" (seed 0) or "trained" (loaded from the folder).</param>
/// <param name="Vae">A latent run's autoencoder (its <c>vae/</c>), or null; the caller disposes it.</param>
internal sealed record BenchModel(string Name, IDenoiser Model, IScheduler Scheduler, string Weights, Models.Autoencoders.IAutoencoder? Vae = null)
{
    /// <summary>
    /// A preset or config.json (random weights), a UNet2DModel folder (its weights if present), or a pipeline or run folder
    /// (<c>unet/</c> and its scheduler; <paramref name="sampler"/> replaces the sampler over the same schedule).
    /// </summary>
    /// <exception cref="InvalidInputException">Unknown preset, missing folder parts, unknown sampler.</exception>
    public static BenchModel Load(string spec, string sampler = "ddpm", torch.Device? device = null)
    {
        SamplerCatalog.Get(sampler);
        bool isFolder = Directory.Exists(spec);
        if (isFolder && (File.Exists(Path.Combine(spec, "model_index.json")) || Directory.Exists(Path.Combine(spec, "unet"))))
        {
            var pipeline = DiffusionPipeline.Load(spec, samplerName: sampler, device: device);
            return new BenchModel(spec, pipeline.Denoiser, pipeline.Scheduler, "trained", pipeline.Vae);
        }
        var config = ModelSpecs.Config(spec);
        var scheduler = SchedulerFactory.Create(sampler, new NoiseScheduleConfig(config.NumTrainTimesteps ?? 1000));
        if (isFolder && File.Exists(Path.Combine(spec, UNet2DModel.WeightsFileName)))
            return new BenchModel(spec, Denoisers.FromPretrained(spec, device), scheduler, "trained");
        torch.random.manual_seed(0);
        return new BenchModel(spec, config.Build(device), scheduler, "random");
    }
}
