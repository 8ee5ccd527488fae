namespace DiffusionSharp.Models;

/// <summary>diffusers <c>mid_block_type</c>: <c>"UNetMidBlock2D"</c> or JSON <c>null</c> (no mid block).</summary>
public enum MidBlockType
{
    /// <summary><c>UNetMidBlock2D</c>: resnet, attention (if <c>add_attention</c>), resnet.</summary>
    UNetMidBlock2D,

    /// <summary>JSON <c>null</c>: the bottleneck goes straight to the up blocks.</summary>
    None,
}
