using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks1D;

/// <summary>
/// diffusers' <c>ResConvBlock</c> (Dance Diffusion): conv(k=5) → GroupNorm(1) → GELU → conv(k=5) → GroupNorm(1) → GELU, plus the
/// input (through a bias-free 1x1 <c>conv_skip</c> when the channel count changes). The last block of the network
/// (<c>is_last</c>) ends after the second conv, so the output is not normalised.
/// </summary>
public sealed class ResConvBlock : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv_skip")] private readonly Conv1d? _convSkip;
    [ComponentName(Name = "conv_1")] private readonly Conv1d _conv1;
    [ComponentName(Name = "group_norm_1")] private readonly GroupNorm _groupNorm1;
    [ComponentName(Name = "conv_2")] private readonly Conv1d _conv2;
    [ComponentName(Name = "group_norm_2")] private readonly GroupNorm? _groupNorm2;

    private readonly long _in;
    private readonly long _mid;
    private readonly long _out;

    /// <param name="path">State-dict path, e.g. <c>down_blocks.0.resnets.0</c>.</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="midChannels">Channels after the first conv.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="isLast">No norm and activation after the second conv.</param>
    /// <param name="device">Parameter device.</param>
    internal ResConvBlock(string path, long inChannels, long midChannels, long outChannels, bool isLast, Device? device) : base(path)
    {
        (_in, _mid, _out) = (inChannels, midChannels, outChannels);
        if (inChannels != outChannels) _convSkip = nn.Conv1d(inChannels, outChannels, 1, bias: false, device: device);
        _conv1 = nn.Conv1d(inChannels, midChannels, 5, padding: 2, device: device);
        _groupNorm1 = Layers.GroupNorm(midChannels, 1, 1e-5, path + ".group_norm_1", device);
        _conv2 = nn.Conv1d(midChannels, outChannels, 5, padding: 2, device: device);
        if (!isLast) _groupNorm2 = Layers.GroupNorm(outChannels, 1, 1e-5, path + ".group_norm_2", device);
        RegisterComponents();
    }

    /// <summary>[B, C_in, L] to [B, C_out, L].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var residual = _convSkip is null ? input : _convSkip.call(input);
        var x = F.gelu(_groupNorm1.call(_conv1.call(input)));
        x = _conv2.call(x);
        if (_groupNorm2 is not null) x = F.gelu(_groupNorm2.call(x));
        return (x + residual).MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one sample of length <paramref name="length"/>.</summary>
    internal long Flops(long length) =>
        2 * length * (5 * _in * _mid + 5 * _mid * _out + (_convSkip is null ? 0 : _in * _out));
}
