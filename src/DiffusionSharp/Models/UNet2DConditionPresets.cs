namespace DiffusionSharp.Models;

/// <summary>Named <see cref="UNet2DConditionModel"/> architectures: Stable Diffusion's, and a small one to train from scratch.</summary>
public static class UNet2DConditionPresets
{
    private static readonly IReadOnlyList<CrossAttnDownBlockType> SdDown =
    [
        CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.CrossAttnDownBlock2D,
        CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.DownBlock2D,
    ];

    private static readonly IReadOnlyList<CrossAttnUpBlockType> SdUp =
    [
        CrossAttnUpBlockType.UpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D,
        CrossAttnUpBlockType.CrossAttnUpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D,
    ];

    /// <summary>
    /// <c>sd15</c>: the UNet of Stable Diffusion 1.5 (<c>unet/config.json</c> of runwayml/stable-diffusion-v1-5): 64x64x4 latents,
    /// channels (320, 640, 1280, 1280), 8 heads per level, CLIP ViT-L/14 text states (768), 1x1-conv projections.
    /// 859,520,964 parameters.
    /// </summary>
    public static UNet2DConditionConfig StableDiffusion15 { get; } = new()
    {
        SampleSize = 64,
        InChannels = 4,
        OutChannels = 4,
        BlockOutChannels = [320, 640, 1280, 1280],
        DownBlockTypes = SdDown,
        UpBlockTypes = SdUp,
        LayersPerBlock = 2,
        AttentionHeadDim = [8],
        CrossAttentionDim = 768,
        NormNumGroups = 32,
    };

    /// <summary>
    /// <c>sd21</c>: the UNet of Stable Diffusion 2.1 (stabilityai/stable-diffusion-2-1, 768x768 images, 96x96x4 latents): as 1.5 but
    /// OpenCLIP ViT-H text states (1024), Linear projections, and 5, 10, 20, 20 heads (64 channels each); attention upcast for fp16.
    /// 865,910,724 parameters.
    /// </summary>
    public static UNet2DConditionConfig StableDiffusion21 { get; } = StableDiffusion15 with
    {
        SampleSize = 96,
        AttentionHeadDim = [5, 10, 20, 20],
        CrossAttentionDim = 1024,
        UseLinearProjection = true,
        UpcastAttention = true,
    };

    /// <summary>
    /// <c>text-tiny</c>: for training from scratch on 16x16x4 latents (a 64x64 image through an 8x VAE, or 32x32 through a 2x one):
    /// channels (64, 128, 256), two resnets per level, cross-attention at 8x8 and 4x4 (and in the mid block) with 32-channel heads,
    /// 256-wide context embeddings.
    /// </summary>
    public static UNet2DConditionConfig TextTiny { get; } = new()
    {
        SampleSize = 16,
        InChannels = 4,
        OutChannels = 4,
        BlockOutChannels = [64, 128, 256],
        DownBlockTypes = [CrossAttnDownBlockType.DownBlock2D, CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.CrossAttnDownBlock2D],
        UpBlockTypes = [CrossAttnUpBlockType.CrossAttnUpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D, CrossAttnUpBlockType.UpBlock2D],
        LayersPerBlock = 2,
        AttentionHeadDim = [2, 4, 8],
        CrossAttentionDim = 256,
        NormNumGroups = 32,
    };

    /// <summary>
    /// <c>emoji-text-small</c>: the text-conditioned counterpart of <c>emoji-latent-small</c> for the bundled emoji through the f4
    /// VAE (16x16x4 latents): channels (64, 128, 128), one resnet per level, cross-attention at 8x8, 4x4 and in the mid block
    /// (heads of 32 channels) to 128-wide text states (<see cref="ClipTextConfig.Tiny"/>, <c>clip-text-small</c>).
    /// </summary>
    public static UNet2DConditionConfig EmojiTextSmall { get; } = new()
    {
        SampleSize = 16,
        InChannels = 4,
        OutChannels = 4,
        BlockOutChannels = [64, 128, 128],
        DownBlockTypes = [CrossAttnDownBlockType.DownBlock2D, CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.CrossAttnDownBlock2D],
        UpBlockTypes = [CrossAttnUpBlockType.CrossAttnUpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D, CrossAttnUpBlockType.UpBlock2D],
        LayersPerBlock = 1,
        AttentionHeadDim = [2, 4, 4],
        CrossAttentionDim = 128,
        NormNumGroups = 16,
    };

    /// <summary>Preset names, in the order they should be listed.</summary>
    public static IReadOnlyList<string> Names { get; } = ["sd15", "sd21", "text-tiny", "emoji-text-small"];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="InvalidInputException">No such preset; the message lists the available ones.</exception>
    public static UNet2DConditionConfig Get(string name) => name?.ToLowerInvariant() switch
    {
        "sd15" => StableDiffusion15,
        "sd21" => StableDiffusion21,
        "text-tiny" => TextTiny,
        "emoji-text-small" => EmojiTextSmall,
        _ => throw new InvalidInputException($"text-conditioned model preset '{name}' is unknown: expected one of {string.Join(", ", Names)}"),
    };
}
