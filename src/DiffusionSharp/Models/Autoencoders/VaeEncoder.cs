using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// diffusers' VAE <c>Encoder</c> (double_z): conv_in, <see cref="DownEncoderBlock2D"/> per level, the mid block (resnet, single-head
/// attention, resnet), GroupNorm, SiLU, conv_out to 2 x latent_channels (mean and log-variance). All norms use eps 1e-6.
/// </summary>
public sealed class VaeEncoder : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv_in")] private readonly Conv2d _convIn;
    [ComponentName(Name = "down_blocks")] private readonly ModuleList<DownEncoderBlock2D> _downBlocks;
    [ComponentName(Name = "mid_block")] private readonly UNetMidBlock2D _midBlock;
    [ComponentName(Name = "conv_norm_out")] private readonly GroupNorm _convNormOut;
    [ComponentName(Name = "conv_out")] private readonly Conv2d _convOut;

    private readonly AutoencoderKLConfig _config;

    internal VaeEncoder(AutoencoderKLConfig config, ResnetSettings s) : base("encoder")
    {
        _config = config;
        var ch = config.BlockOutChannels;
        _convIn = Layers.Conv3x3(config.InChannels, ch[0], s.Device);
        _downBlocks = new ModuleList<DownEncoderBlock2D>();
        long output = ch[0];
        for (var i = 0; i < ch.Count; i++)
        {
            var input = output;
            output = ch[i];
            _downBlocks.Add(new DownEncoderBlock2D($"encoder.down_blocks.{i}", input, output, config.LayersPerBlock, addDownsample: i < ch.Count - 1, s));
        }
        // attention_head_dim = channels: one head over all channels, as diffusers' Encoder builds its mid block.
        _midBlock = new UNetMidBlock2D("encoder.mid_block", ch[^1], s, ch[^1], null, config.MidBlockAddAttention, 1.0);
        _convNormOut = Layers.GroupNorm(ch[^1], s.Groups, s.Eps, "encoder.conv_norm_out", s.Device);
        _convOut = Layers.Conv3x3(ch[^1], 2 * config.LatentChannels, s.Device);
        RegisterComponents();
    }

    /// <summary>[B, in_channels, H, W] to the moments [B, 2 x latent_channels, H/f, W/f], f = 2^(levels-1).</summary>
    public override Tensor forward(Tensor sample) => Run(sample, null);

    /// <summary>The forward pass, reporting conv_in, down_blocks.i, mid_block, conv_norm_out (before the SiLU) and conv_out.</summary>
    internal Tensor Run(Tensor sample, Action<string, Tensor>? observe)
    {
        using var scope = NewDisposeScope();
        var hidden = _convIn.call(sample);
        observe?.Invoke("encoder.conv_in", hidden);
        for (var i = 0; i < _downBlocks.Count; i++)
        {
            hidden = _downBlocks[i].call(hidden);
            observe?.Invoke($"encoder.down_blocks.{i}", hidden);
        }
        hidden = _midBlock.call(hidden, null);
        observe?.Invoke("encoder.mid_block", hidden);
        hidden = _convNormOut.call(hidden);
        observe?.Invoke("encoder.conv_norm_out", hidden);
        hidden = _convOut.call(F.silu(hidden));
        observe?.Invoke("encoder.conv_out", hidden);
        return hidden.MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one H x W image; also the latent resolution.</summary>
    internal (long Flops, long Height, long Width) Flops(long height, long width)
    {
        long h = height, w = width;
        var flops = Layers.ConvFlops(_config.InChannels, _config.BlockOutChannels[0], 3, h, w);
        foreach (var block in _downBlocks)
        {
            var r = block.Flops(h, w);
            (flops, h, w) = (flops + r.Flops, r.Height, r.Width);
        }
        flops += _midBlock.Flops(h, w) + Layers.ConvFlops(_config.BlockOutChannels[^1], 2 * _config.LatentChannels, 3, h, w);
        return (flops, h, w);
    }
}
