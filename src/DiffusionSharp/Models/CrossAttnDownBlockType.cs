namespace DiffusionSharp.Models;

/// <summary>diffusers <c>down_block_types</c> entries of a <see cref="UNet2DConditionModel"/>.</summary>
public enum CrossAttnDownBlockType
{
    /// <summary><c>DownBlock2D</c>: resnets, then a downsampler.</summary>
    DownBlock2D,

    /// <summary><c>CrossAttnDownBlock2D</c>: resnet + Transformer2DModel pairs, then a downsampler.</summary>
    CrossAttnDownBlock2D,
}
