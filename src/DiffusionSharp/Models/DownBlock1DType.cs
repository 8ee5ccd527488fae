namespace DiffusionSharp.Models;

/// <summary>UNet1DModel <c>down_block_types</c> entries this port implements (diffusers' Dance Diffusion family).</summary>
public enum DownBlock1DType
{
    /// <summary><c>DownBlock1D</c>: cubic downsampler, then three ResConvBlocks.</summary>
    DownBlock1D,

    /// <summary><c>AttnDownBlock1D</c>: cubic downsampler, then three ResConvBlock + SelfAttention1d pairs.</summary>
    AttnDownBlock1D,

    /// <summary><c>DownBlock1DNoSkip</c>: concatenates the time embedding to its input, then three ResConvBlocks; no downsampler.</summary>
    DownBlock1DNoSkip,
}
