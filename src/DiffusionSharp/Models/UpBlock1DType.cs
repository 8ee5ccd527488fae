namespace DiffusionSharp.Models;

/// <summary>UNet1DModel <c>up_block_types</c> entries this port implements (diffusers' Dance Diffusion family).</summary>
public enum UpBlock1DType
{
    /// <summary><c>UpBlock1D</c>: concatenates the skip, three ResConvBlocks, cubic upsampler.</summary>
    UpBlock1D,

    /// <summary><c>AttnUpBlock1D</c>: concatenates the skip, three ResConvBlock + SelfAttention1d pairs, cubic upsampler.</summary>
    AttnUpBlock1D,

    /// <summary><c>UpBlock1DNoSkip</c>: concatenates the skip, three ResConvBlocks (the last unnormalised); no upsampler.</summary>
    UpBlock1DNoSkip,
}
