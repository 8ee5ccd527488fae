namespace DiffusionSharp.Models;

/// <summary>Named UNet2D architectures, looked up by name (e.g. by the CLI's model option).</summary>
public static class ModelPresets
{
    /// <summary>
    /// <c>mnist-nano</c>: <see cref="MnistTiny"/> at half the width, channels (16, 32, 64): 0.15 GFLOPs per image, about
    /// twice mnist-tiny's training speed. The README's 15-minute main job.
    /// </summary>
    public static UNet2DConfig MnistNano { get; } = new()
    {
        SampleSize = 28,
        InChannels = 1,
        OutChannels = 1,
        LayersPerBlock = 1,
        BlockOutChannels = [16, 32, 64],
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D],
        UpBlockTypes = [UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D, UpBlockType.UpBlock2D],
        NormNumGroups = 8,
        AttentionHeadDim = 8,
    };

    /// <summary>
    /// <c>mnist-tiny</c>: 28x28x1, channels (32, 64, 64), one resnet per level, attention only at 7x7 (and in the mid block),
    /// 8 heads of 8 channels. About 1.1 M parameters, 0.38 GFLOPs per image.
    /// </summary>
    public static UNet2DConfig MnistTiny { get; } = new()
    {
        SampleSize = 28,
        InChannels = 1,
        OutChannels = 1,
        LayersPerBlock = 1,
        BlockOutChannels = [32, 64, 64],
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D],
        UpBlockTypes = [UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D, UpBlockType.UpBlock2D],
        NormNumGroups = 8,
        AttentionHeadDim = 8,
    };

    /// <summary><c>mnist-small</c>: 28x28x1, channels (32, 64, 128), two resnets per level, attention at 14x14 and 7x7.</summary>
    public static UNet2DConfig MnistSmall { get; } = new()
    {
        SampleSize = 28,
        InChannels = 1,
        OutChannels = 1,
        LayersPerBlock = 2,
        BlockOutChannels = [32, 64, 128],
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D, DownBlockType.AttnDownBlock2D],
        UpBlockTypes = [UpBlockType.AttnUpBlock2D, UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D],
        NormNumGroups = 8,
        AttentionHeadDim = 8,
    };

    /// <summary>
    /// <c>emoji32-small</c>: 32x32x3 (the bundled emoji at <c>--resolution 32</c>), channels (32, 64, 128), one resnet per
    /// level, attention at 8x8 and in the mid block (16 heads of 8 channels). Class-conditional when training
    /// adds <c>num_class_embeds</c>.
    /// </summary>
    public static UNet2DConfig Emoji32Small { get; } = new()
    {
        SampleSize = 32,
        InChannels = 3,
        OutChannels = 3,
        LayersPerBlock = 1,
        BlockOutChannels = [32, 64, 128],
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D],
        UpBlockTypes = [UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D, UpBlockType.UpBlock2D],
        NormNumGroups = 8,
        AttentionHeadDim = 8,
    };

    /// <summary>
    /// <c>emoji-latent-small</c>: 16x16x4 latents (the bundled emoji at <c>--resolution 64</c> through the f4 VAE
    /// <c>kl-rgb64-f4</c> that <c>diffuse train-vae</c> trains), channels (64, 128, 128), one resnet per level, attention at
    /// 8x8, 4x4 and in the mid block (heads of 32 channels). The latent counterpart of a 64x64 pixel model of the same widths.
    /// </summary>
    public static UNet2DConfig EmojiLatentSmall { get; } = new()
    {
        SampleSize = 16,
        InChannels = 4,
        OutChannels = 4,
        LayersPerBlock = 1,
        BlockOutChannels = [64, 128, 128],
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D, DownBlockType.AttnDownBlock2D],
        UpBlockTypes = [UpBlockType.AttnUpBlock2D, UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D],
        NormNumGroups = 16,
        AttentionHeadDim = 32,
    };

    /// <summary><c>cifar10-ddpm</c>: the architecture of <c>google/ddpm-cifar10-32</c> (35,746,307 parameters).</summary>
    public static UNet2DConfig Cifar10Ddpm { get; } = new()
    {
        SampleSize = 32,
        InChannels = 3,
        OutChannels = 3,
        LayersPerBlock = 2,
        BlockOutChannels = [128, 256, 256, 256],
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D, DownBlockType.DownBlock2D, DownBlockType.DownBlock2D],
        UpBlockTypes = [UpBlockType.UpBlock2D, UpBlockType.UpBlock2D, UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D],
        AttentionHeadDim = null,
        DownsamplePadding = 0,
        FlipSinToCos = false,
        FreqShift = 1,
        NormEps = 1e-6,
        NormNumGroups = 32,
    };

    /// <summary>Preset names, in the order they should be listed.</summary>
    public static IReadOnlyList<string> Names { get; } = ["mnist-nano", "mnist-tiny", "mnist-small", "emoji32-small", "emoji-latent-small", "cifar10-ddpm"];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="InvalidInputException">No such preset; the message lists the available ones.</exception>
    public static UNet2DConfig Get(string name) => name?.ToLowerInvariant() switch
    {
        "mnist-nano" => MnistNano,
        "mnist-tiny" => MnistTiny,
        "mnist-small" => MnistSmall,
        "emoji32-small" => Emoji32Small,
        "emoji-latent-small" => EmojiLatentSmall,
        "cifar10-ddpm" => Cifar10Ddpm,
        _ => throw new InvalidInputException($"model preset '{name}' is unknown: expected one of {string.Join(", ", Names)}"),
    };
}
