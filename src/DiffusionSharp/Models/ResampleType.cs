namespace DiffusionSharp.Models;

/// <summary>diffusers <c>downsample_type</c> / <c>upsample_type</c> (used by the attention blocks only, as in diffusers).</summary>
public enum ResampleType
{
    /// <summary><c>"conv"</c>: strided 3x3 conv down; nearest x2 then 3x3 conv up.</summary>
    Conv,

    /// <summary><c>"resnet"</c>: a ResnetBlock2D that average-pools down or nearest-upsamples inside.</summary>
    Resnet,
}
