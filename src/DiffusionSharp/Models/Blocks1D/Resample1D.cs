using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks1D;

/// <summary>
/// diffusers' <c>Downsample1d</c> / <c>Upsample1d</c> with the "cubic" kernel: a fixed low-pass filter applied per channel after
/// reflect padding, stride 2 (down: conv1d, up: conv_transpose1d with the kernel doubled). The kernel is a persistent buffer named
/// <c>kernel</c>, as in diffusers' state dict, so it loads from and saves to the weights file.
/// </summary>
public sealed class Resample1D : nn.Module<Tensor, Tensor>
{
    // diffusers' _kernels["cubic"] (Keys cubic interpolation sampled at half-sample offsets).
    private static readonly float[] Cubic = [-0.01171875f, -0.03515625f, 0.11328125f, 0.43359375f, 0.43359375f, 0.11328125f, -0.03515625f, -0.01171875f];

    [ComponentName(Name = "kernel")] private readonly Tensor _kernel;
    private readonly bool _up;
    private readonly long _pad;

    /// <param name="path">State-dict path, e.g. <c>down_blocks.1.down</c>.</param>
    /// <param name="up">Upsample (true) or downsample (false).</param>
    /// <param name="device">Buffer device.</param>
    internal Resample1D(string path, bool up, Device? device) : base(path)
    {
        _up = up;
        _pad = Cubic.Length / 2 - 1;
        using (var k = tensor(Cubic))
        {
            _kernel = (up ? k * 2 : k.clone()).to(device ?? CPU);
        }
        RegisterComponents();
    }

    /// <summary>[B, C, L] to [B, C, L/2] (down) or [B, C, 2L] (up).</summary>
    public override Tensor forward(Tensor input)
    {
        var channels = input.shape[1];
        using var scope = NewDisposeScope();
        // diffusers builds a [C, C, K] weight with the kernel on the diagonal: the same as a grouped conv with one kernel per channel.
        var weight = _kernel.to(input.dtype).reshape(1, 1, -1).expand(channels, 1, -1).contiguous();
        Tensor output;
        if (_up)
        {
            var padded = F.pad(input, [(_pad + 1) / 2, (_pad + 1) / 2], TorchSharp.PaddingModes.Reflect);
            output = F.conv_transpose1d(padded, weight, stride: 2, padding: _pad * 2 + 1, groups: channels);
        }
        else
        {
            var padded = F.pad(input, [_pad, _pad], TorchSharp.PaddingModes.Reflect);
            output = F.conv1d(padded, weight, stride: 2, groups: channels);
        }
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one sample of <paramref name="channels"/> x <paramref name="outLength"/> output.</summary>
    internal long Flops(long channels, long outLength) => 2 * channels * Cubic.Length * outLength;
}
