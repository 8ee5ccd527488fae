using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>ResnetBlock2D</c> (pre-norm): GroupNorm, SiLU, conv3x3, + time embedding, GroupNorm, SiLU, dropout, conv3x3,
/// plus a 1x1 <c>conv_shortcut</c> when the channel count changes; the sum is divided by <c>output_scale_factor</c>.
/// </summary>
public sealed class ResnetBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
    [ComponentName(Name = "norm1")] private readonly GroupNorm _norm1;
    [ComponentName(Name = "conv1")] private readonly Conv2d _conv1;
    [ComponentName(Name = "time_emb_proj")] private readonly Linear? _timeEmbProj;
    [ComponentName(Name = "norm2")] private readonly GroupNorm _norm2;
    [ComponentName(Name = "dropout")] private readonly Dropout _dropout;
    [ComponentName(Name = "conv2")] private readonly Conv2d _conv2;
    [ComponentName(Name = "conv_shortcut")] private readonly Conv2d? _convShortcut;

    private readonly long _inChannels;
    private readonly long _outChannels;
    private readonly double _outputScaleFactor;
    private readonly ResnetTimeScaleShift _timeScaleShift;
    private readonly ResnetResample _resample;

    internal ResnetBlock2D(string path, long inChannels, long outChannels, ResnetSettings s,
        double outputScaleFactor = 1.0, ResnetResample resample = ResnetResample.None) : base(path)
    {
        _inChannels = inChannels;
        _outChannels = outChannels;
        _outputScaleFactor = outputScaleFactor;
        _timeScaleShift = s.TimeScaleShift;
        _resample = resample;

        _norm1 = Layers.GroupNorm(inChannels, s.Groups, s.Eps, path + ".norm1", s.Device);
        _conv1 = Layers.Conv3x3(inChannels, outChannels, s.Device);
        if (s.TembChannels > 0)
        {
            var projected = s.TimeScaleShift == ResnetTimeScaleShift.ScaleShift ? 2 * outChannels : outChannels;
            _timeEmbProj = nn.Linear(s.TembChannels, projected, device: s.Device);
        }
        _norm2 = Layers.GroupNorm(outChannels, s.Groups, s.Eps, path + ".norm2", s.Device);
        _dropout = nn.Dropout(s.Dropout);
        _conv2 = Layers.Conv3x3(outChannels, outChannels, s.Device);
        if (inChannels != outChannels)
        {
            _convShortcut = nn.Conv2d(inChannels, outChannels, 1, device: s.Device);
        }
        RegisterComponents();
    }

    /// <summary>Applies the block.</summary>
    /// <param name="input">[B, C_in, H, W] float.</param>
    /// <param name="temb">[B, temb_channels] time embedding, or null.</param>
    /// <returns>[B, C_out, H', W'] with H' = H, 2H or H/2 depending on the resampling.</returns>
    public override Tensor forward(Tensor input, Tensor? temb)
    {
        // The block's temporaries are released when it returns, not when the whole forward pass ends: under inference mode
        // that bounds memory by one block instead of the network; in training autograd keeps what backward needs by itself.
        using var scope = NewDisposeScope();
        var hidden = F.silu(_norm1.call(input));
        var shortcut = input;
        switch (_resample)
        {
            case ResnetResample.Up:
                shortcut = Upsample2D.Nearest2x(input);
                hidden = Upsample2D.Nearest2x(hidden);
                break;
            case ResnetResample.Down:
                shortcut = F.avg_pool2d(input, 2, 2);
                hidden = F.avg_pool2d(hidden, 2, 2);
                break;
        }
        hidden = _conv1.call(hidden);

        Tensor? t = null;
        if (_timeEmbProj is not null && temb is not null)
        {
            t = _timeEmbProj.call(F.silu(temb)).unsqueeze(-1).unsqueeze(-1);
        }
        if (_timeScaleShift == ResnetTimeScaleShift.ScaleShift && t is not null)
        {
            // FiLM: norm2(h) * (1 + scale) + shift, the embedding split in two along channels.
            var chunks = t.chunk(2, 1);
            hidden = _norm2.call(hidden) * (chunks[0] + 1) + chunks[1];
        }
        else
        {
            if (t is not null) hidden = hidden + t;
            hidden = _norm2.call(hidden);
        }
        hidden = _conv2.call(_dropout.call(F.silu(hidden)));

        if (_convShortcut is not null) shortcut = _convShortcut.call(shortcut);
        var output = shortcut + hidden;
        return (_outputScaleFactor == 1.0 ? output : output / _outputScaleFactor).MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs per image for an H x W input (convolutions and projections).</summary>
    internal long Flops(long height, long width)
    {
        var (h, w) = _resample switch
        {
            ResnetResample.Up => (height * 2, width * 2),
            ResnetResample.Down => (height / 2, width / 2),
            _ => (height, width),
        };
        var flops = Layers.ConvFlops(_inChannels, _outChannels, 3, h, w) + Layers.ConvFlops(_outChannels, _outChannels, 3, h, w);
        if (_timeEmbProj is not null) flops += Layers.LinearFlops(_timeEmbProj.in_features, _timeEmbProj.out_features);
        if (_convShortcut is not null) flops += Layers.ConvFlops(_inChannels, _outChannels, 1, h, w);
        return flops;
    }
}
