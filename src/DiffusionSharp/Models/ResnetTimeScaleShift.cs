namespace DiffusionSharp.Models;

/// <summary>diffusers <c>resnet_time_scale_shift</c>: how the time embedding enters a ResnetBlock2D.</summary>
public enum ResnetTimeScaleShift
{
    /// <summary><c>"default"</c>: add a projected embedding before norm2.</summary>
    Default,

    /// <summary><c>"scale_shift"</c>: norm2(h) * (1 + scale) + shift (FiLM).</summary>
    ScaleShift,
}
