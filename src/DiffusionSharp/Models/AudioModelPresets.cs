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

    /// <summary>
    /// <c>audio-patch4</c>: the same clips seen as 2,048 frames of 4 samples (<c>patch_size</c> 4), channels (64, 128, 128)
    /// at frame lengths 2048, 512 and 128, one resnet per level, attention at length 128 and in the mid block: audio-small
    /// without its 8,192-sample level, which held most of its memory traffic.
    /// </summary>
    public static AudioUNet1DConfig AudioPatch4 { get; } = new()
    {
        PatchSize = 4,
        BlockOutChannels = [64, 128, 128],
        DownFactors = [4, 4],
        AttentionLevels = [false, false, true],
    };

    /// <summary>
    /// <c>series-small</c>: short numeric series (a CSV of time series, lengths 16 to a few hundred), channels (32, 64, 64) at
    /// lengths L, L/4 and L/16 (downsampling by 16), one resnet per level, attention at the shortest level and in the mid block.
    /// <c>sample_size</c> 128 until training sets it to the data's length; <c>sample_rate</c> is not used for series.
    /// </summary>
    public static AudioUNet1DConfig SeriesSmall { get; } = new()
    {
        SampleSize = 128,
        BlockOutChannels = [32, 64, 64],
        DownFactors = [4, 4],
        AttentionLevels = [false, false, true],
    };

    /// <summary>Preset names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["audio-small", "audio-patch4", "series-small"];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or null when there is none.</summary>
    public static AudioUNet1DConfig? Find(string name) => name?.ToLowerInvariant() switch
    {
        "audio-small" => AudioSmall,
        "audio-patch4" => AudioPatch4,
        "series-small" => SeriesSmall,
        _ => null,
    };
}
