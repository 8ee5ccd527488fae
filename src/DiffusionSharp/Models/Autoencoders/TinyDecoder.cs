using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// diffusers' <c>DecoderTiny</c> (TAESD's decoder), one flat <c>layers</c> list: conv_in and act_fn, then per stage
/// num_decoder_blocks[i] <see cref="AutoencoderTinyBlock"/>s, a nearest upsampling (all stages but the last) and a 3x3 conv (without
/// bias, except the last one, which maps to out_channels). Latents are first soft-clamped to (-3, 3) by 3·tanh(z/3); the [0, 1]
/// output is mapped back to [-1, 1].
/// </summary>
public sealed class TinyDecoder : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "layers")] private readonly ModuleList<nn.Module<Tensor, Tensor>> _layers;
    private readonly int _upsampling;

    internal TinyDecoder(AutoencoderTinyConfig config, Device? device) : base("decoder")
    {
        var ch = config.DecoderBlockOutChannels;
        _upsampling = config.UpsamplingScalingFactor;
        _layers = new ModuleList<nn.Module<Tensor, Tensor>>(Layers.Conv3x3(config.LatentChannels, ch[0], device), AutoencoderTinyBlock.Activation(config.ActFn));
        for (var i = 0; i < ch.Count; i++)
        {
            var last = i == ch.Count - 1;
            for (var b = 0; b < config.NumDecoderBlocks[i]; b++) _layers.Add(new AutoencoderTinyBlock(ch[i], config.ActFn, device));
            if (!last) _layers.Add(nn.Upsample(scale_factor: [_upsampling, _upsampling], mode: UpsampleMode.Nearest));
            _layers.Add(nn.Conv2d(ch[i], last ? config.OutChannels : ch[i], 3, padding: 1, bias: last, device: device));
        }
        RegisterComponents();
    }

    /// <summary>Latents [B, latent_channels, h, w] to the image [B, out_channels, h·s^(stages-1), w·s^(stages-1)] in about [-1, 1].</summary>
    public override Tensor forward(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var hidden = (latents / 3).tanh_() * 3;
        foreach (var layer in _layers) hidden = layer.call(hidden);
        return hidden.mul(2).sub_(1).MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one h x w latent.</summary>
    internal long Flops(long height, long width)
    {
        long flops = 0, h = height, w = width;
        foreach (var layer in _layers)
        {
            switch (layer)
            {
                case Conv2d conv:
                    flops += Layers.ConvFlops(conv.in_channels, conv.out_channels, 3, h, w);
                    break;
                case AutoencoderTinyBlock block:
                    flops += block.Flops(h, w);
                    break;
                case Upsample:
                    (h, w) = (h * _upsampling, w * _upsampling);
                    break;
            }
        }
        return flops;
    }
}
