namespace DiffusionSharp.Models;

/// <summary>diffusers <c>up_block_types</c> entries of a <see cref="UNet2DConditionModel"/>.</summary>
public enum CrossAttnUpBlockType
{
    /// <summary><c>UpBlock2D</c>: resnets over the concatenated skips, then an upsampler.</summary>
    UpBlock2D,

    /// <summary><c>CrossAttnUpBlock2D</c>: resnet + Transformer2DModel pairs over the concatenated skips, then an upsampler.</summary>
    CrossAttnUpBlock2D,
}
