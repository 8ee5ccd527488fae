using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks;

/// <summary>diffusers' <c>Upsample2D</c> with <c>use_conv=True</c>: nearest-neighbour x2, then a 3x3 conv.</summary>
public sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv")] private readonly Conv2d _conv;
    private readonly long _channels;

    internal Upsample2D(string path, long channels, Device? device) : base(path)
    {
        _channels = channels;
        _conv = Layers.Conv3x3(channels, channels, device);
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] to [B, C, 2H, 2W].</summary>
    public override Tensor forward(Tensor input) => _conv.call(Nearest2x(input));

    internal static Tensor Nearest2x(Tensor input) =>
        F.interpolate(input, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);

    /// <summary>FLOPs per image for an H x W input.</summary>
    internal long Flops(long height, long width) => Layers.ConvFlops(_channels, _channels, 3, 2 * height, 2 * width);
}
