using System.Text.Json;
using DiffusionSharp.IO;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// The networks this library can load from a diffusers folder, by their <c>_class_name</c>: one entry per network class.
/// Adding a network = its <see cref="IDenoiser"/> and <see cref="IDenoiserConfig"/> plus one entry here.
/// </summary>
public static class Denoisers
{
    /// <summary>One network class: how its config and its folder are read.</summary>
    /// <param name="ClassName">diffusers' <c>_class_name</c>.</param>
    /// <param name="LoadConfig">Reads a <c>config.json</c>.</param>
    /// <param name="Load">Loads a model folder (config and weights) onto a device (null = CPU).</param>
    public sealed record Entry(string ClassName, Func<string, IDenoiserConfig> LoadConfig, Func<string, Device?, IDenoiser> Load);

    /// <summary>Every known network class.</summary>
    public static IReadOnlyList<Entry> All { get; } =
    [
        new(UNet2DConfig.ClassName, path => UNet2DConfig.Load(path), (folder, device) => UNet2DModel.FromPretrained(folder, device)),
        new(UNet2DConditionConfig.ClassName, path => UNet2DConditionConfig.Load(path), (folder, device) => UNet2DConditionModel.FromPretrained(folder, device)),
        new(UNet1DConfig.ClassName, path => UNet1DConfig.Load(path), (folder, device) => UNet1DModel.FromPretrained(folder, device)),
        new(AudioUNet1DConfig.ClassName, path => AudioUNet1DConfig.Load(path), (folder, device) => AudioUNet1DModel.FromPretrained(folder, device)),
    ];

    /// <summary>
    /// Loads a diffusers model folder (or a pipeline folder's <c>unet/</c>), choosing the network class from the
    /// config's <c>_class_name</c> (a config without one is read as a UNet2DModel, as diffusers' early folders).
    /// </summary>
    /// <exception cref="InvalidInputException">Missing files, an unknown class, or weights that do not fit.</exception>
    public static IDenoiser FromPretrained(string folder, Device? device = null)
    {
        var (configPath, _) = PretrainedWeights.ResolveFolder(folder);
        return EntryFor(configPath).Load(folder, device);
    }

    /// <summary>Reads a <c>config.json</c> of any known network class.</summary>
    /// <exception cref="InvalidInputException">Unreadable, an unknown class, or an invalid config.</exception>
    public static IDenoiserConfig LoadConfig(string configPath) => EntryFor(configPath).LoadConfig(configPath);

    private static Entry EntryFor(string configPath)
    {
        string className = UNet2DConfig.ClassName;
        try
        {
            using var doc = JsonDocument.Parse(JsonFile.ReadText(configPath, "model config"), JsonFile.DocumentOptions);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("_class_name", out var name)
                && name.ValueKind == JsonValueKind.String)
                className = name.GetString()!;
        }
        catch (JsonException)
        {
            // The network's own reader reports the malformed file with its position.
        }
        return All.FirstOrDefault(e => e.ClassName == className)
            ?? throw new InvalidInputException(
                $"{configPath}: _class_name '{className}' is not a network this library implements (known: {string.Join(", ", All.Select(e => e.ClassName))})");
    }
}
