using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks1D;

/// <summary>
/// One encoder level of UNet1DModel: diffusers' <c>DownBlock1D</c>, <c>AttnDownBlock1D</c> or <c>DownBlock1DNoSkip</c> (see
/// <see cref="DownBlock1DType"/>). Three ResConvBlocks (in → out → out → out), with attention after each for the Attn type.
/// Its output is also the level's skip connection.
/// </summary>
public sealed class DownBlock1D : nn.Module
{
    [ComponentName(Name = "down")] private readonly Resample1D? _down;
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResConvBlock> _resnets;
    [ComponentName(Name = "attentions")] private readonly ModuleList<SelfAttention1D>? _attentions;

    private readonly DownBlock1DType _type;

    /// <param name="path">State-dict path, e.g. <c>down_blocks.1</c>.</param>
    /// <param name="type">The diffusers block type.</param>
    /// <param name="inChannels">Channels entering the block (with the time embedding for the NoSkip type).</param>
    /// <param name="outChannels">Channels of every resnet output.</param>
    /// <param name="device">Parameter device.</param>
    internal DownBlock1D(string path, DownBlock1DType type, long inChannels, long outChannels, Device? device) : base(path)
    {
        _type = type;
        if (type != DownBlock1DType.DownBlock1DNoSkip) _down = new Resample1D(path + ".down", up: false, device);
        _resnets = new ModuleList<ResConvBlock>();
        if (type == DownBlock1DType.AttnDownBlock1D) _attentions = new ModuleList<SelfAttention1D>();
        for (var i = 0; i < 3; i++)
        {
            _resnets.Add(new ResConvBlock($"{path}.resnets.{i}", i == 0 ? inChannels : outChannels, outChannels, outChannels, false, device));
            _attentions?.Add(new SelfAttention1D($"{path}.attentions.{i}", outChannels, device));
        }
        RegisterComponents();
    }

    /// <summary>Whether the block halves the length.</summary>
    public bool Downsamples => _down is not null;

    /// <summary>Runs the block.</summary>
    /// <param name="hidden">[B, C_in, L] (NoSkip: [B, C_in - E, L]).</param>
    /// <param name="temb">[B, E, L]: the time embedding repeated along the length (used by the NoSkip type only).</param>
    /// <returns>[B, C_out, L'] with L' = L/2 when <see cref="Downsamples"/>.</returns>
    public Tensor Forward(Tensor hidden, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var x = _type == DownBlock1DType.DownBlock1DNoSkip ? cat([hidden, temb], 1) : _down!.call(hidden);
        for (var i = 0; i < _resnets.Count; i++)
        {
            x = _resnets[i].call(x);
            if (_attentions is not null) x = _attentions[i].call(x);
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one sample entering at length <paramref name="length"/>, and the output length.</summary>
    internal (long Flops, long Length) Flops(long channelsIn, long length)
    {
        long flops = 0;
        if (_down is not null)
        {
            length /= 2;
            flops += _down.Flops(channelsIn, length);
        }
        foreach (var r in _resnets) flops += r.Flops(length);
        if (_attentions is not null) foreach (var a in _attentions) flops += a.Flops(length);
        return (flops, length);
    }
}
