namespace DiffusionSharp.Models;

/// <summary>Named <see cref="AudioUNet1DModel"/> architectures, looked up by name (e.g. by the CLI's model option).</summary>
public static class AudioModelPresets
{
    /// <summary>
    /// <c>audio-small</c>: 8,192-sample clips at 8 kHz (the bundled spoken digits), channels (32, 64, 128, 128) at lengths
    /// 8192, 2048, 512 and 128 (downsampling by 4), one resnet per level, attention at length 128 and in the mid block.
    /// Class-conditional when training adds <c>num_class_embeds</c>.
    /// </summary>
    public static AudioUNet1DConfig AudioSmall { get; } = new();

    /// <summary>Preset names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["audio-small"];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or null when there is none.</summary>
    public static AudioUNet1DConfig? Find(string name) => name?.ToLowerInvariant() switch
    {
        "audio-small" => AudioSmall,
        _ => null,
    };
}
