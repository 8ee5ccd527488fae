using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>The ResnetBlock2D options every block of one UNet shares.</summary>
/// <param name="TembChannels">Width of the time embedding (4 x block_out_channels[0]).</param>
/// <param name="Eps">norm_eps.</param>
/// <param name="Groups">norm_num_groups.</param>
/// <param name="Dropout">dropout probability.</param>
/// <param name="TimeScaleShift">resnet_time_scale_shift.</param>
/// <param name="Device">Where parameters are created (CPU by default; <c>meta</c> for shape-only models).</param>
internal sealed record ResnetSettings(long TembChannels, double Eps, int Groups, double Dropout, ResnetTimeScaleShift TimeScaleShift, Device? Device);
