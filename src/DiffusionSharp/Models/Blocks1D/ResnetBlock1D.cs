using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks1D;

/// <summary>
/// A 1-D ResNet block with a time-embedding shift, the 1-D analogue of diffusers' <c>ResnetBlock2D</c> (default settings):
/// h = conv1(SiLU(GN(x))) + Linear(SiLU(temb)), out = shortcut(x) + conv2(SiLU(GN(h))); with scale-shift (FiLM) the projection
/// gives [scale, shift] and out = shortcut(x) + conv2(SiLU(GN(h) * (1 + scale) + shift)) with h = conv1(SiLU(GN(x))).
/// Kernel 3, padding 1: the length is kept.
/// </summary>
internal sealed class ResnetBlock1D : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "norm1")] private readonly GroupNorm _norm1;
    [ComponentName(Name = "conv1")] private readonly Conv1d _conv1;
    [ComponentName(Name = "time_emb_proj")] private readonly Linear _timeEmbProj;
    [ComponentName(Name = "norm2")] private readonly GroupNorm _norm2;
    [ComponentName(Name = "conv2")] private readonly Conv1d _conv2;
    [ComponentName(Name = "conv_shortcut")] private readonly Conv1d? _convShortcut;

    private readonly long _in, _out, _temb;
    private readonly bool _scaleShift;

    public ResnetBlock1D(string path, long inChannels, long outChannels, long tembChannels, int groups, Device? device,
        bool scaleShift = false) : base(path)
    {
        (_in, _out, _temb, _scaleShift) = (inChannels, outChannels, tembChannels, scaleShift);
        _norm1 = Layers.GroupNorm(inChannels, groups, 1e-5, path + ".norm1", device);
        _conv1 = nn.Conv1d(inChannels, outChannels, 3, padding: 1, device: device);
        _timeEmbProj = nn.Linear(tembChannels, scaleShift ? 2 * outChannels : outChannels, device: device);
        _norm2 = Layers.GroupNorm(outChannels, groups, 1e-5, path + ".norm2", device);
        _conv2 = nn.Conv1d(outChannels, outChannels, 3, padding: 1, device: device);
        if (inChannels != outChannels) _convShortcut = nn.Conv1d(inChannels, outChannels, 1, device: device);
        RegisterComponents();
    }

    /// <summary>[B, in, L] and temb [B, T] to [B, out, L].</summary>
    public override Tensor forward(Tensor input, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var h = _conv1.call(F.silu(_norm1.call(input)));
        var emb = _timeEmbProj.call(F.silu(temb)).unsqueeze(-1);
        if (_scaleShift)
        {
            var scaleShift = emb.chunk(2, 1);
            h = _norm2.call(h) * (scaleShift[0] + 1) + scaleShift[1];
        }
        else h = _norm2.call(h + emb);
        h = _conv2.call(F.silu(h));
        var skip = _convShortcut is null ? input : _convShortcut.call(input);
        return (skip + h).MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one sample of length <paramref name="length"/>.</summary>
    public long Flops(long length) =>
        2 * _in * _out * 3 * length + 2 * _out * _out * 3 * length + Layers.LinearFlops(_temb, _scaleShift ? 2 * _out : _out)
        + (_convShortcut is null ? 0 : 2 * _in * _out * length);
}
