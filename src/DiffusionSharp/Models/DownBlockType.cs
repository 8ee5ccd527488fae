namespace DiffusionSharp.Models;

/// <summary>diffusers <c>down_block_types</c> entries.</summary>
public enum DownBlockType
{
    /// <summary><c>DownBlock2D</c>: resnets, then a downsampler.</summary>
    DownBlock2D,

    /// <summary><c>AttnDownBlock2D</c>: resnet + self-attention pairs, then a downsampler.</summary>
    AttnDownBlock2D,
}
