using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>Downsample2D</c> with <c>use_conv=True</c>: a stride-2 3x3 conv. With <c>downsample_padding = 0</c> the input is first
/// padded by one row and column at the bottom/right only (the original DDPM's asymmetric padding), as diffusers does.
/// </summary>
public sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv")] private readonly Conv2d _conv;
    private readonly long _channels;
    private readonly long _padding;

    internal Downsample2D(string path, long channels, long padding, Device? device) : base(path)
    {
        _channels = channels;
        _padding = padding;
        _conv = Layers.Conv3x3(channels, channels, device, stride: 2, padding: padding);
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] to [B, C, ceil(H/2), ceil(W/2)] (H, W even in practice).</summary>
    public override Tensor forward(Tensor input) =>
        _padding == 0 ? _conv.call(F.pad(input, [0, 1, 0, 1])) : _conv.call(input);

    /// <summary>FLOPs per image for an H x W input.</summary>
    internal long Flops(long height, long width)
    {
        var outH = (height + (_padding == 0 ? 1 : 2 * _padding) - 3) / 2 + 1;
        var outW = (width + (_padding == 0 ? 1 : 2 * _padding) - 3) / 2 + 1;
        return Layers.ConvFlops(_channels, _channels, 3, outH, outW);
    }
}
