namespace DiffusionSharp.Models;

/// <summary>diffusers <c>mid_block_type</c> of a <see cref="UNet2DConditionModel"/>: <c>"UNetMidBlock2DCrossAttn"</c> or JSON <c>null</c>.</summary>
public enum CrossAttnMidBlockType
{
    /// <summary><c>UNetMidBlock2DCrossAttn</c>: resnet, then per layer a Transformer2DModel and a resnet.</summary>
    UNetMidBlock2DCrossAttn,

    /// <summary>JSON <c>null</c>: the bottleneck goes straight to the up blocks.</summary>
    None,
}
