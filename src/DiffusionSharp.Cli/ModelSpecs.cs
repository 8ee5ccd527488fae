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

    /// <summary>
    /// Any network <paramref name="model"/> names, for <c>model info</c>: a preset of any kind (image, audio, text-conditioned)
    /// or a config.json (or a folder holding one) of any class <see cref="Denoisers"/> knows.
    /// </summary>
    /// <exception cref="InvalidInputException">Neither a preset nor a readable config of a known class.</exception>
    public static IDenoiserConfig AnyConfig(string model)
    {
        if (ModelPresets.Names.Contains(model, StringComparer.OrdinalIgnoreCase)) return ModelPresets.Get(model);
        if (AudioModelPresets.Find(model) is { } audio) return audio;
        if (UNet2DConditionPresets.Names.Contains(model, StringComparer.OrdinalIgnoreCase)) return UNet2DConditionPresets.Get(model);
        var path = File.Exists(model) ? model : Path.Combine(model, UNet2DModel.ConfigFileName);
        if (File.Exists(path)) return Denoisers.LoadConfig(path);
        var presets = ModelPresets.Names.Concat(AudioModelPresets.Names).Concat(UNet2DConditionPresets.Names);
        throw new InvalidInputException($"--model: '{model}' is neither a preset ({string.Join(", ", presets)}) nor a config.json file or a folder holding one");
    }

    /// <summary>The UNet2DConditionModel <paramref name="model"/> names: a preset (emoji-text-small, text-tiny, ...) or a config.json of that class.</summary>
    /// <exception cref="InvalidInputException">Neither, or a config of another class.</exception>
    public static UNet2DConditionConfig ConditionConfig(string model)
    {
        if (UNet2DConditionPresets.Names.Contains(model, StringComparer.OrdinalIgnoreCase)) return UNet2DConditionPresets.Get(model);
        var path = File.Exists(model) ? model : Path.Combine(model, UNet2DModel.ConfigFileName);
        if (!File.Exists(path))
            throw new InvalidInputException(
                $"--model: '{model}' is neither a text-conditioned preset ({string.Join(", ", UNet2DConditionPresets.Names)}) nor a UNet2DConditionModel config.json; --prompt-column trains a UNet2DConditionModel");
        if (Denoisers.LoadConfig(path) is not UNet2DConditionConfig config)
            throw new InvalidInputException($"--model: {path} is not a UNet2DConditionModel config; --prompt-column trains a UNet2DConditionModel (e.g. emoji-text-small)");
        return config;
    }

    /// <summary>The CLIP text encoder <paramref name="textEncoder"/> names: a preset (clip-text-small, sd15) or a CLIPTextModel config.json.</summary>
    /// <exception cref="InvalidInputException">Neither.</exception>
    public static ClipTextConfig TextEncoderConfig(string textEncoder)
    {
        if (ClipTextConfig.PresetNames.Contains(textEncoder, StringComparer.OrdinalIgnoreCase)) return ClipTextConfig.Get(textEncoder);
        var path = File.Exists(textEncoder) ? textEncoder : Path.Combine(textEncoder, ClipTextModel.ConfigFileName);
        if (!File.Exists(path))
            throw new InvalidInputException(
                $"--text-encoder: '{textEncoder}' is neither a preset ({string.Join(", ", ClipTextConfig.PresetNames)}) nor a CLIPTextModel config.json");
        return ClipTextConfig.Load(path);
    }
}
