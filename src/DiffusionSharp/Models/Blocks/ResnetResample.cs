namespace DiffusionSharp.Models.Blocks;

/// <summary>Resampling done inside a <see cref="ResnetBlock2D"/> (diffusers' <c>up=True</c> / <c>down=True</c>).</summary>
public enum ResnetResample
{
    /// <summary>Same resolution in and out.</summary>
    None,

    /// <summary>Nearest-neighbour x2 after norm1 (upsample_type "resnet").</summary>
    Up,

    /// <summary>2x2 average pool after norm1 (downsample_type "resnet").</summary>
    Down,
}
