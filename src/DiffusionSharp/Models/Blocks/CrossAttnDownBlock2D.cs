using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>CrossAttnDownBlock2D</c>: per layer a <see cref="ResnetBlock2D"/> then a <see cref="Transformer2DModel"/>
/// attending to the context; then a stride-2 conv <see cref="Downsample2D"/> (all but the lowest level).
/// </summary>
public sealed class CrossAttnDownBlock2D : nn.Module
{
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock2D> _resnets;
    [ComponentName(Name = "attentions")] private readonly ModuleList<Transformer2DModel> _attentions;
    [ComponentName(Name = "downsamplers")] private readonly ModuleList<Downsample2D>? _downsamplers;

    /// <param name="path">State-dict path, e.g. <c>down_blocks.0</c>.</param>
    /// <param name="inChannels">Channels entering the block.</param>
    /// <param name="outChannels">Channels of every resnet output.</param>
    /// <param name="numLayers">layers_per_block.</param>
    /// <param name="addDownsample">False for the lowest level.</param>
    /// <param name="s">Shared resnet options.</param>
    /// <param name="t">Shared transformer options, with this level's heads and depth.</param>
    /// <param name="downsamplePadding">downsample_padding.</param>
    internal CrossAttnDownBlock2D(string path, long inChannels, long outChannels, int numLayers, bool addDownsample,
        ResnetSettings s, TransformerSettings t, int downsamplePadding) : base(path)
    {
        _resnets = new ModuleList<ResnetBlock2D>();
        _attentions = new ModuleList<Transformer2DModel>();
        for (var i = 0; i < numLayers; i++)
        {
            _resnets.Add(new ResnetBlock2D($"{path}.resnets.{i}", i == 0 ? inChannels : outChannels, outChannels, s));
            _attentions.Add(t.Build($"{path}.attentions.{i}", outChannels, s.Device));
        }
        if (addDownsample)
            _downsamplers = new ModuleList<Downsample2D>(new Downsample2D($"{path}.downsamplers.0", outChannels, downsamplePadding, s.Device));
        RegisterComponents();
    }

    /// <summary>Runs the block; appends each attention output and the downsampled output to <paramref name="skips"/>.</summary>
    /// <param name="hidden">[B, C_in, H, W].</param>
    /// <param name="temb">[B, temb_channels].</param>
    /// <param name="context">[B, L, cross_attention_dim].</param>
    /// <param name="maskBias">[B, 1, L] additive key bias, or null.</param>
    /// <param name="skips">The U-Net's skip stack.</param>
    /// <returns>[B, C_out, H/2, W/2] (or H, W for the lowest level).</returns>
    public Tensor Forward(Tensor hidden, Tensor temb, Tensor context, Tensor? maskBias, List<Tensor> skips)
    {
        for (var i = 0; i < _resnets.Count; i++)
        {
            hidden = _resnets[i].call(hidden, temb);
            hidden = _attentions[i].call(hidden, context, maskBias);
            skips.Add(hidden);
        }
        if (_downsamplers is not null)
        {
            hidden = _downsamplers[0].call(hidden);
            skips.Add(hidden);
        }
        return hidden;
    }

    /// <summary>FLOPs per sample for an H x W input; also returns the output resolution.</summary>
    internal (long Flops, long Height, long Width) Flops(long height, long width, long contextLength)
    {
        long flops = 0;
        for (var i = 0; i < _resnets.Count; i++)
            flops += _resnets[i].Flops(height, width) + _attentions[i].Flops(height, width, contextLength);
        if (_downsamplers is null) return (flops, height, width);
        return (flops + _downsamplers[0].Flops(height, width), (height + 1) / 2, (width + 1) / 2);
    }
}
