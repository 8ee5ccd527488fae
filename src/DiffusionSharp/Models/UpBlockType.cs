namespace DiffusionSharp.Models;

/// <summary>diffusers <c>up_block_types</c> entries.</summary>
public enum UpBlockType
{
    /// <summary><c>UpBlock2D</c>: resnets over concatenated skips, then an upsampler.</summary>
    UpBlock2D,

    /// <summary><c>AttnUpBlock2D</c>: resnet + self-attention pairs over concatenated skips, then an upsampler.</summary>
    AttnUpBlock2D,
}
