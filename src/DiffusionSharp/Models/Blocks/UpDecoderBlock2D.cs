using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// One level of a VAE decoder: diffusers' <c>UpDecoderBlock2D</c>, resnets without a time embedding or skip connections, then
/// (except at the last level) an <see cref="Upsample2D"/> (nearest x2, 3x3 conv).
/// </summary>
public sealed class UpDecoderBlock2D : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock2D> _resnets;
    [ComponentName(Name = "upsamplers")] private readonly ModuleList<Upsample2D>? _upsamplers;

    /// <param name="path">State-dict path, e.g. <c>decoder.up_blocks.0</c>.</param>
    /// <param name="inChannels">Channels entering the block.</param>
    /// <param name="outChannels">Channels of every resnet output.</param>
    /// <param name="numLayers">layers_per_block + 1, as diffusers' Decoder builds it.</param>
    /// <param name="addUpsample">False for the last (full-resolution) level.</param>
    /// <param name="s">Shared resnet options (TembChannels 0).</param>
    internal UpDecoderBlock2D(string path, long inChannels, long outChannels, int numLayers, bool addUpsample, ResnetSettings s) : base(path)
    {
        _resnets = new ModuleList<ResnetBlock2D>();
        for (var i = 0; i < numLayers; i++)
        {
            _resnets.Add(new ResnetBlock2D($"{path}.resnets.{i}", i == 0 ? inChannels : outChannels, outChannels, s));
        }
        if (addUpsample) _upsamplers = new ModuleList<Upsample2D>(new Upsample2D($"{path}.upsamplers.0", outChannels, s.Device));
        RegisterComponents();
    }

    /// <summary>[B, C_in, H, W] to [B, C_out, 2H, 2W] (H, W at the last level).</summary>
    public override Tensor forward(Tensor hidden)
    {
        foreach (var resnet in _resnets) hidden = resnet.call(hidden, null);
        return _upsamplers is null ? hidden : _upsamplers[0].call(hidden);
    }

    /// <summary>FLOPs per image for an H x W input; also returns the output resolution.</summary>
    internal (long Flops, long Height, long Width) Flops(long height, long width)
    {
        var flops = _resnets.Sum(r => r.Flops(height, width));
        if (_upsamplers is null) return (flops, height, width);
        return (flops + _upsamplers[0].Flops(height, width), 2 * height, 2 * width);
    }
}
