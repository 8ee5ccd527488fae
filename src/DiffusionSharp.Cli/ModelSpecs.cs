using DiffusionSharp.Models;

namespace DiffusionSharp.Cli;

/// <summary>Resolves <c>--model</c> values that name an architecture: a preset name or a config.json path.</summary>
internal static class ModelSpecs
{
    public static UNet2DConfig Config(string model)
    {
        if (ModelPresets.Names.Contains(model, StringComparer.OrdinalIgnoreCase)) return ModelPresets.Get(model);
        if (File.Exists(model)) return UNet2DConfig.Load(model);
        if (Directory.Exists(model) && File.Exists(Path.Combine(model, UNet2DModel.ConfigFileName)))
            return UNet2DConfig.Load(Path.Combine(model, UNet2DModel.ConfigFileName));
        throw new InvalidInputException(
            $"--model: '{model}' is neither a preset ({string.Join(", ", ModelPresets.Names)}) nor a config.json file");
    }
}
