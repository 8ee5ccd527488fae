using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// One level of a VAE encoder: diffusers' <c>DownEncoderBlock2D</c>, resnets without a time embedding, then (except at the last
/// level) a <see cref="Downsample2D"/> with diffusers' VAE padding 0 (pad right/bottom by one, stride-2 conv).
/// </summary>
public sealed class DownEncoderBlock2D : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock2D> _resnets;
    [ComponentName(Name = "downsamplers")] private readonly ModuleList<Downsample2D>? _downsamplers;

    /// <param name="path">State-dict path, e.g. <c>encoder.down_blocks.1</c>.</param>
    /// <param name="inChannels">Channels entering the block.</param>
    /// <param name="outChannels">Channels of every resnet output.</param>
    /// <param name="numLayers">layers_per_block.</param>
    /// <param name="addDownsample">False for the last (lowest-resolution) level.</param>
    /// <param name="s">Shared resnet options (TembChannels 0).</param>
    internal DownEncoderBlock2D(string path, long inChannels, long outChannels, int numLayers, bool addDownsample, ResnetSettings s) : base(path)
    {
        _resnets = new ModuleList<ResnetBlock2D>();
        for (var i = 0; i < numLayers; i++)
        {
            _resnets.Add(new ResnetBlock2D($"{path}.resnets.{i}", i == 0 ? inChannels : outChannels, outChannels, s));
        }
        if (addDownsample) _downsamplers = new ModuleList<Downsample2D>(new Downsample2D($"{path}.downsamplers.0", outChannels, 0, s.Device));
        RegisterComponents();
    }

    /// <summary>[B, C_in, H, W] to [B, C_out, floor(H/2), floor(W/2)] (H, W at the last level).</summary>
    public override Tensor forward(Tensor hidden)
    {
        foreach (var resnet in _resnets) hidden = resnet.call(hidden, null);
        return _downsamplers is null ? hidden : _downsamplers[0].call(hidden);
    }

    /// <summary>FLOPs per image for an H x W input; also returns the output resolution.</summary>
    internal (long Flops, long Height, long Width) Flops(long height, long width)
    {
        var flops = _resnets.Sum(r => r.Flops(height, width));
        if (_downsamplers is null) return (flops, height, width);
        // One extra row and column, then a stride-2 3x3 conv without padding: floor(H/2) x floor(W/2).
        return (flops + _downsamplers[0].Flops(height, width), height / 2, width / 2);
    }
}
