using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks1D;

/// <summary>
/// diffusers' <c>UNetMidBlock1D</c>: cubic downsampler, six ResConvBlock + SelfAttention1d pairs, cubic upsampler: the bottleneck
/// runs at half the lowest encoder resolution and returns to it.
/// </summary>
public sealed class UNetMidBlock1D : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "down")] private readonly Resample1D _down;
    [ComponentName(Name = "attentions")] private readonly ModuleList<SelfAttention1D> _attentions;
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResConvBlock> _resnets;
    [ComponentName(Name = "up")] private readonly Resample1D _up;

    private readonly long _channels;

    /// <param name="path">State-dict path (<c>mid_block</c>).</param>
    /// <param name="channels">In, mid and out channels (block_out_channels[-1]).</param>
    /// <param name="device">Parameter device.</param>
    internal UNetMidBlock1D(string path, long channels, Device? device) : base(path)
    {
        _channels = channels;
        _down = new Resample1D(path + ".down", up: false, device);
        _resnets = new ModuleList<ResConvBlock>();
        _attentions = new ModuleList<SelfAttention1D>();
        for (var i = 0; i < 6; i++)
        {
            _resnets.Add(new ResConvBlock($"{path}.resnets.{i}", channels, channels, channels, false, device));
            _attentions.Add(new SelfAttention1D($"{path}.attentions.{i}", channels, device));
        }
        _up = new Resample1D(path + ".up", up: true, device);
        RegisterComponents();
    }

    /// <summary>[B, C, L] to [B, C, L] (L even).</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = _down.call(input);
        for (var i = 0; i < _resnets.Count; i++) x = _attentions[i].call(_resnets[i].call(x));
        return _up.call(x).MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one sample of length <paramref name="length"/>.</summary>
    internal long Flops(long length)
    {
        var half = length / 2;
        long flops = _down.Flops(_channels, half) + _up.Flops(_channels, length);
        for (var i = 0; i < _resnets.Count; i++) flops += _resnets[i].Flops(half) + _attentions[i].Flops(half);
        return flops;
    }
}
