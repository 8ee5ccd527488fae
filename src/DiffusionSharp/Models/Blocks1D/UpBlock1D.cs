using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks1D;

/// <summary>
/// One decoder level of UNet1DModel: diffusers' <c>UpBlock1D</c>, <c>AttnUpBlock1D</c> or <c>UpBlock1DNoSkip</c> (see
/// <see cref="UpBlock1DType"/>). Concatenates the skip, then three ResConvBlocks (2·in → mid → mid → out; mid = out for the Attn
/// type, in otherwise), with attention after each for the Attn type, then the cubic upsampler (not for NoSkip).
/// </summary>
public sealed class UpBlock1D : nn.Module
{
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResConvBlock> _resnets;
    [ComponentName(Name = "attentions")] private readonly ModuleList<SelfAttention1D>? _attentions;
    [ComponentName(Name = "up")] private readonly Resample1D? _up;

    private readonly long _in;

    /// <param name="path">State-dict path, e.g. <c>up_blocks.0</c>.</param>
    /// <param name="type">The diffusers block type.</param>
    /// <param name="inChannels">Channels of the incoming hidden state (and of the skip).</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="device">Parameter device.</param>
    internal UpBlock1D(string path, UpBlock1DType type, long inChannels, long outChannels, Device? device) : base(path)
    {
        _in = inChannels;
        var mid = type == UpBlock1DType.AttnUpBlock1D ? outChannels : inChannels;
        _resnets = new ModuleList<ResConvBlock>(
            new ResConvBlock($"{path}.resnets.0", 2 * inChannels, mid, mid, false, device),
            new ResConvBlock($"{path}.resnets.1", mid, mid, mid, false, device),
            new ResConvBlock($"{path}.resnets.2", mid, mid, outChannels, isLast: type == UpBlock1DType.UpBlock1DNoSkip, device));
        if (type == UpBlock1DType.AttnUpBlock1D)
        {
            _attentions = new ModuleList<SelfAttention1D>(
                new SelfAttention1D($"{path}.attentions.0", mid, device),
                new SelfAttention1D($"{path}.attentions.1", mid, device),
                new SelfAttention1D($"{path}.attentions.2", outChannels, device));
        }
        if (type != UpBlock1DType.UpBlock1DNoSkip) _up = new Resample1D(path + ".up", up: true, device);
        RegisterComponents();
    }

    /// <summary>Whether the block doubles the length.</summary>
    public bool Upsamples => _up is not null;

    /// <summary>Runs the block.</summary>
    /// <param name="hidden">[B, C_in, L].</param>
    /// <param name="skip">[B, C_in, L]: the matching encoder level's output.</param>
    /// <returns>[B, C_out, L'] with L' = 2L when <see cref="Upsamples"/>.</returns>
    public Tensor Forward(Tensor hidden, Tensor skip)
    {
        using var scope = NewDisposeScope();
        var x = cat([hidden, skip], 1);
        for (var i = 0; i < _resnets.Count; i++)
        {
            x = _resnets[i].call(x);
            if (_attentions is not null) x = _attentions[i].call(x);
        }
        if (_up is not null) x = _up.call(x);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one sample entering at length <paramref name="length"/>, and the output length.</summary>
    internal (long Flops, long Length) Flops(long channelsOut, long length)
    {
        long flops = 0;
        foreach (var r in _resnets) flops += r.Flops(length);
        if (_attentions is not null) foreach (var a in _attentions) flops += a.Flops(length);
        if (_up is not null)
        {
            length *= 2;
            flops += _up.Flops(channelsOut, length);
        }
        return (flops, length);
    }
}
