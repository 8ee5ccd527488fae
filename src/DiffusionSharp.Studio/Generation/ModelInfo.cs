using System.Text.Json;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Pipelines;

namespace DiffusionSharp.Studio.Generation;

/// <summary>What the Generate page shows of a model folder, read from its config files alone (no weights are loaded).</summary>
/// <param name="Id">The folder's name.</param>
/// <param name="ClassName">The network's diffusers class.</param>
/// <param name="SampleShape">[C, H, W] of a sample the network denoises (a latent model's latents), or null when the config leaves it open.</param>
/// <param name="NumClasses">Real classes of a class-conditional model; 0 when unconditional.</param>
/// <param name="HasEma">Whether the folder has EMA weights (<c>unet_ema/</c>).</param>
/// <param name="NumTrainTimesteps">T of the training schedule: the most sampler steps.</param>
/// <param name="Scheduler">The folder's own scheduler class, or null (a bare model folder).</param>
/// <param name="Vae">A latent model's autoencoder class (its <c>vae/</c>), or null in pixel space.</param>
/// <param name="OutputShape">[C, H, W] of a generated image (the decoded shape of a latent model), or null when unknown.</param>
/// <param name="TextToImage">A Stable Diffusion pipeline folder (<c>model_index.json</c> names a text encoder): it samples from a prompt.</param>
public sealed record ModelInfo(string Id, string ClassName, IReadOnlyList<int>? SampleShape, int NumClasses, bool HasEma, int NumTrainTimesteps, string? Scheduler,
    string? Vae = null, IReadOnlyList<int>? OutputShape = null, bool TextToImage = false)
{
    /// <summary>Whether <paramref name="folder"/> is one <see cref="DiffusionPipeline.Load"/> reads: a pipeline folder, or a model folder of a known network class.</summary>
    public static bool IsModelFolder(string folder)
    {
        if (IsPipeline(folder)) return true;
        string config = Path.Combine(folder, UNet2DModel.ConfigFileName);
        if (!File.Exists(config)) return false;
        try
        {
            Denoisers.LoadConfig(config);
            return true;
        }
        catch (InvalidInputException)
        {
            return false; // another kind of model (the digit classifier) or a broken one: not offered
        }
    }

    /// <summary>Reads the folder's configs.</summary>
    /// <exception cref="InvalidInputException">A config file is missing or malformed.</exception>
    public static ModelInfo Read(string id, string folder)
    {
        bool pipeline = IsPipeline(folder);
        string config = pipeline ? Path.Combine(folder, "unet", UNet2DModel.ConfigFileName) : Path.Combine(folder, UNet2DModel.ConfigFileName);
        var network = Denoisers.LoadConfig(config);
        int timesteps = (network as UNet2DConfig)?.NumTrainTimesteps ?? 1000;
        string? scheduler = null;
        string schedulerConfig = Path.Combine(folder, "scheduler", "scheduler_config.json");
        if (pipeline && File.Exists(schedulerConfig))
        {
            using var doc = JsonDocument.Parse(JsonFile.ReadText(schedulerConfig, "scheduler config"), JsonFile.DocumentOptions);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{schedulerConfig}: expected a JSON object");
            if (doc.RootElement.TryGetProperty("num_train_timesteps", out var t) && t.TryGetInt32(out int n)) timesteps = n;
            if (doc.RootElement.TryGetProperty("_class_name", out var c) && c.ValueKind == JsonValueKind.String) scheduler = c.GetString();
        }
        var (vae, outputShape) = pipeline && DiffusionPipeline.VaeFolder(folder) is { } vaeDir ? Decoded(vaeDir, network.SampleShape) : (null, network.SampleShape);
        return new ModelInfo(id, network.ClassName, network.SampleShape, network.NumClasses,
            pipeline && Directory.Exists(Path.Combine(folder, "unet_ema")), timesteps, scheduler, vae, outputShape,
            StableDiffusionPipeline.IsTextToImageFolder(folder));
    }

    /// <summary>The autoencoder's class and the image shape it decodes <paramref name="latentShape"/> to, from its config alone.</summary>
    private static (string ClassName, IReadOnlyList<int>? OutputShape) Decoded(string vaeDir, IReadOnlyList<int>? latentShape)
    {
        string path = Path.Combine(vaeDir, UNet2DModel.ConfigFileName);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: missing (the model_index.json names a vae)");
        string json = JsonFile.ReadText(path, "vae config");
        string? className;
        try
        {
            using var doc = JsonDocument.Parse(json, JsonFile.DocumentOptions);
            className = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("_class_name", out var c) && c.ValueKind == JsonValueKind.String
                ? c.GetString() : null;
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})", e);
        }
        var (channels, factor) = className switch
        {
            AutoencoderKLConfig.ClassName => AutoencoderKLConfig.FromJson(json, path) is var kl ? (kl.InChannels, kl.DownsamplingFactor) : default,
            AutoencoderTinyConfig.ClassName => AutoencoderTinyConfig.FromJson(json, path) is var tiny ? (tiny.InChannels, tiny.DownsamplingFactor) : default,
            _ => throw new InvalidInputException(
                $"{path}: _class_name {(className is null ? "missing" : $"'{className}'")} is not an autoencoder this library implements (known: {string.Join(", ", AutoencoderLoader.ClassNames)})"),
        };
        return (className!, latentShape is null ? null : [channels, .. latentShape.Skip(1).Select(d => d * factor)]);
    }

    private static bool IsPipeline(string folder) =>
        File.Exists(Path.Combine(folder, "model_index.json")) || Directory.Exists(Path.Combine(folder, "unet"));
}
