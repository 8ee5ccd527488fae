using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// diffusers' <c>EncoderTiny</c> (TAESD's encoder), one flat <c>layers</c> list as diffusers' nn.Sequential: conv_in, then per stage
/// (a stride-2 3x3 conv without bias for every stage after the first) and num_encoder_blocks[i] <see cref="AutoencoderTinyBlock"/>s,
/// then a 3x3 conv to latent_channels. The image is mapped from [-1, 1] to TAESD's [0, 1] first.
/// </summary>
public sealed class TinyEncoder : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "layers")] private readonly ModuleList<nn.Module<Tensor, Tensor>> _layers;

    internal TinyEncoder(AutoencoderTinyConfig config, Device? device) : base("encoder")
    {
        var ch = config.EncoderBlockOutChannels;
        _layers = new ModuleList<nn.Module<Tensor, Tensor>>();
        for (var i = 0; i < ch.Count; i++)
        {
            _layers.Add(i == 0
                ? Layers.Conv3x3(config.InChannels, ch[0], device)
                : nn.Conv2d(ch[i], ch[i], 3, stride: 2, padding: 1, bias: false, device: device));
            for (var b = 0; b < config.NumEncoderBlocks[i]; b++) _layers.Add(new AutoencoderTinyBlock(ch[i], config.ActFn, device));
        }
        _layers.Add(Layers.Conv3x3(ch[^1], config.LatentChannels, device));
        RegisterComponents();
    }

    /// <summary>[B, in_channels, H, W] in [-1, 1] to latents [B, latent_channels, H/f, W/f], f = 2^(stages-1).</summary>
    public override Tensor forward(Tensor sample)
    {
        using var scope = NewDisposeScope();
        var hidden = sample.add(1).div(2);
        foreach (var layer in _layers) hidden = layer.call(hidden);
        return hidden.MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for one H x W image; also the latent resolution.</summary>
    internal (long Flops, long Height, long Width) Flops(long height, long width)
    {
        long flops = 0, h = height, w = width;
        foreach (var layer in _layers)
        {
            switch (layer)
            {
                case Conv2d conv:
                    if (conv.stride[0] == 2) (h, w) = ((h + 1) / 2, (w + 1) / 2);
                    flops += Layers.ConvFlops(conv.in_channels, conv.out_channels, 3, h, w);
                    break;
                case AutoencoderTinyBlock block:
                    flops += block.Flops(h, w);
                    break;
            }
        }
        return (flops, h, w);
    }
}
