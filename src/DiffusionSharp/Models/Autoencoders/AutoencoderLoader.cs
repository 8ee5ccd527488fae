using System.Text.Json;
using DiffusionSharp.IO;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// The autoencoders this library can load from a diffusers folder, by their <c>_class_name</c>, and the folder and weights plumbing
/// they share (the same strict loader as <see cref="UNet2DModel"/>).
/// </summary>
public static class AutoencoderLoader
{
    /// <summary>Sub-folder of a diffusers pipeline that holds the VAE.</summary>
    public const string PipelineSubfolder = "vae";

    /// <summary>Every autoencoder class this library implements.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = [AutoencoderKLConfig.ClassName, AutoencoderTinyConfig.ClassName];

    /// <summary>
    /// Whether <paramref name="folder"/> holds a <c>config.json</c> whose <c>_class_name</c> names an autoencoder class (implemented or
    /// not: <c>AutoencoderKL</c>, <c>AutoencoderTiny</c>, <c>AutoencoderKLTemporalDecoder</c>, <c>VQModel</c>, ...), so callers can route
    /// it here. A pipeline folder (no config.json of its own) is not one, though its <c>vae/</c> is.
    /// </summary>
    public static bool IsAutoencoderFolder(string folder)
    {
        if (string.IsNullOrEmpty(folder) || !Directory.Exists(folder)) return false;
        var configPath = Path.Combine(folder, UNet2DModel.ConfigFileName);
        if (!File.Exists(configPath)) return false;
        var name = ReadClassName(configPath);
        return name is not null && (name.StartsWith("Autoencoder", StringComparison.Ordinal) || name == "VQModel");
    }

    /// <summary>Loads a diffusers autoencoder folder, choosing the class from the config's <c>_class_name</c>.</summary>
    /// <exception cref="InvalidInputException">Missing files, an unknown class, or weights that do not fit.</exception>
    public static IAutoencoder FromPretrained(string folder, Device? device = null)
    {
        var (configPath, _) = ResolveFolder(folder);
        return ReadClassName(configPath) switch
        {
            AutoencoderKLConfig.ClassName => AutoencoderKL.FromPretrained(folder, device),
            AutoencoderTinyConfig.ClassName => AutoencoderTiny.FromPretrained(folder, device),
            var other => throw new InvalidInputException(
                $"{configPath}: _class_name {(other is null ? "missing" : $"'{other}'")} is not an autoencoder this library implements (known: {string.Join(", ", ClassNames)})"),
        };
    }

    /// <summary>The weights file of an autoencoder folder (or of a pipeline folder's <c>vae/</c>).</summary>
    /// <exception cref="InvalidInputException">As <see cref="FromPretrained"/> for a folder without config or weights.</exception>
    public static string ResolveWeightsPath(string folder) => ResolveFolder(folder).WeightsPath;

    /// <summary>The config and weights paths of a model folder or of a pipeline folder's <c>vae/</c>.</summary>
    /// <exception cref="InvalidInputException">No folder, no config.json, no safetensors weights (a pickle checkpoint is refused by name).</exception>
    internal static (string ConfigPath, string WeightsPath) ResolveFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"{folder}: model folder not found");
        var configPath = ConfigPathIn(folder)
            ?? throw new InvalidInputException($"{folder}: no {UNet2DModel.ConfigFileName} (nor {PipelineSubfolder}/{UNet2DModel.ConfigFileName}); expected a diffusers autoencoder folder");
        var dir = Path.GetDirectoryName(configPath)!;
        var weightsPath = Path.Combine(dir, UNet2DModel.WeightsFileName);
        if (!File.Exists(weightsPath))
        {
            foreach (var pickle in new[] { "diffusion_pytorch_model.bin", "diffusion_pytorch_model.ckpt", "diffusion_pytorch_model.pt" })
            {
                var p = Path.Combine(dir, pickle);
                if (File.Exists(p)) SafetensorsFile.RejectPickle(p);
            }
            throw new InvalidInputException($"{dir}: weights file {UNet2DModel.WeightsFileName} not found");
        }
        return (configPath, weightsPath);
    }

    /// <summary>
    /// Checks the weights against a shape-only (meta) model first, so a config asking for more or bigger weights than the file holds is
    /// refused before parameter memory is allocated; then builds the model on <paramref name="device"/>, copies the weights, and sets eval mode.
    /// </summary>
    internal static T LoadWeights<T>(string configPath, string weightsPath, Func<Device?, T> build, Device? device) where T : nn.Module
    {
        var header = SafetensorsFile.ReadHeader(weightsPath);
        using (var shapes = build(new Device(TorchSharp.DeviceType.META)))
            PretrainedWeights.Check(shapes, header, configPath);
        var model = build(device);
        try
        {
            PretrainedWeights.LoadInto(model, header, configPath);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes the weights (float32 as stored) and then <c>config.json</c>, each atomically.</summary>
    internal static void Save(nn.Module model, string folder, string configJson)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, UNet2DModel.WeightsFileName), model.state_dict());
        AtomicFile.WriteAllText(Path.Combine(folder, UNet2DModel.ConfigFileName), configJson);
    }

    private static string? ConfigPathIn(string folder)
    {
        var direct = Path.Combine(folder, UNet2DModel.ConfigFileName);
        if (File.Exists(direct)) return direct;
        var nested = Path.Combine(folder, PipelineSubfolder, UNet2DModel.ConfigFileName);
        return File.Exists(nested) ? nested : null;
    }

    /// <summary>The config's <c>_class_name</c>, or null when it has none or is not JSON (the class's own reader then reports the file).</summary>
    private static string? ReadClassName(string configPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(JsonFile.ReadText(configPath, "model config"), JsonFile.DocumentOptions);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("_class_name", out var name)
                && name.ValueKind == JsonValueKind.String ? name.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
