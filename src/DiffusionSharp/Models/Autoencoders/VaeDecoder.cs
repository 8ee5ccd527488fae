using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// diffusers' VAE <c>Decoder</c> (group norm): conv_in to the widest channels, the mid block, <see cref="UpDecoderBlock2D"/> per level
/// (layers_per_block + 1 resnets, widest first), GroupNorm, SiLU, conv_out. All norms use eps 1e-6.
/// </summary>
public sealed class VaeDecoder : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv_in")] private readonly Conv2d _convIn;
    [ComponentName(Name = "mid_block")] private readonly UNetMidBlock2D _midBlock;
    [ComponentName(Name = "up_blocks")] private readonly ModuleList<UpDecoderBlock2D> _upBlocks;
    [ComponentName(Name = "conv_norm_out")] private readonly GroupNorm _convNormOut;
    [ComponentName(Name = "conv_out")] private readonly Conv2d _convOut;

    private readonly AutoencoderKLConfig _config;

    internal VaeDecoder(AutoencoderKLConfig config, ResnetSettings s) : base("decoder")
    {
        _config = config;
        var ch = config.BlockOutChannels;
        _convIn = Layers.Conv3x3(config.LatentChannels, ch[^1], s.Device);
        _midBlock = new UNetMidBlock2D("decoder.mid_block", ch[^1], s, ch[^1], null, config.MidBlockAddAttention, 1.0);
        _upBlocks = new ModuleList<UpDecoderBlock2D>();
        var reversed = ch.Reverse().ToArray();
        long output = reversed[0];
        for (var i = 0; i < reversed.Length; i++)
        {
            var input = output;
            output = reversed[i];
            _upBlocks.Add(new UpDecoderBlock2D($"decoder.up_blocks.{i}", input, output, config.LayersPerBlock + 1, addUpsample: i < reversed.Length - 1, s));
        }
        _convNormOut = Layers.GroupNorm(ch[0], s.Groups, s.Eps, "decoder.conv_norm_out", s.Device);
        _convOut = Layers.Conv3x3(ch[0], config.OutChannels, s.Device);
        RegisterComponents();
    }

    /// <summary>z [B, latent_channels, h, w] to the image [B, out_channels, h·f, w·f], f = 2^(levels-1).</summary>
    public override Tensor forward(Tensor z) => Run(z, null);

    /// <summary>The forward pass, reporting conv_in, mid_block, up_blocks.i, conv_norm_out (before the SiLU) and conv_out.</summary>
    internal Tensor Run(Tensor z, Action<string, Tensor>? observe)
    {
        using var scope = NewDisposeScope();
        var hidden = _convIn.call(z);
        observe?.Invoke("decoder.conv_in", hidden);
        hidden = _midBlock.call(hidden, null);
        observe?.Invoke("decoder.mid_block", hidden);
        for (var i = 0; i < _upBlocks.Count; i++)
        {
            hidden = _upBlocks[i].call(hidden);
            observe?.Invoke($"decoder.up_blocks.{i}", hidden);
        }
        hidden = _convNormOut.call(hidden);
        observe?.Invoke("decoder.conv_norm_out", hidden);
        hidden = _convOut.call(F.silu(hidden));
        observe?.Invoke("decoder.conv_out", hidden);
        return hidden.MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one latent of h x w.</summary>
    internal long Flops(long height, long width)
    {
        long h = height, w = width;
        var flops = Layers.ConvFlops(_config.LatentChannels, _config.BlockOutChannels[^1], 3, h, w) + _midBlock.Flops(h, w);
        foreach (var block in _upBlocks)
        {
            var r = block.Flops(h, w);
            (flops, h, w) = (flops + r.Flops, r.Height, r.Width);
        }
        return flops + Layers.ConvFlops(_config.BlockOutChannels[0], _config.OutChannels, 3, h, w);
    }
}
