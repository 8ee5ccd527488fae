using DiffusionSharp.Models;

namespace DiffusionSharp.Cli;

/// <summary>Resolves <c>--model</c> values that name an architecture: a preset name or a config.json path.</summary>
internal static class ModelSpecs
{
    /// <summary>The audio architecture <paramref name="model"/> names (a preset, or a config.json whose _class_name is DiffusionSharpUNet1D), or null.</summary>
    public static AudioUNet1DConfig? AudioConfig(string model)
    {
        if (AudioModelPresets.Find(model) is { } preset) return preset;
        var path = File.Exists(model) ? model : Path.Combine(model, UNet2DModel.ConfigFileName);
        if (!File.Exists(path) || !File.ReadAllText(path).Contains($"\"{AudioUNet1DConfig.ClassName}\"", StringComparison.Ordinal)) return null;
        return AudioUNet1DConfig.Load(path);
    }

    public static UNet2DConfig Config(string model)
    {
        if (ModelPresets.Names.Contains(model, StringComparer.OrdinalIgnoreCase)) return ModelPresets.Get(model);
        if (File.Exists(model)) return UNet2DConfig.Load(model);
        if (Directory.Exists(model) && File.Exists(Path.Combine(model, UNet2DModel.ConfigFileName)))
            return UNet2DConfig.Load(Path.Combine(model, UNet2DModel.ConfigFileName));
        throw new InvalidInputException(
            $"--model: '{model}' is neither a preset ({string.Join(", ", ModelPresets.Names)}) nor a config.json file (audio: {string.Join(", ", AudioModelPresets.Names)})");
    }
}
