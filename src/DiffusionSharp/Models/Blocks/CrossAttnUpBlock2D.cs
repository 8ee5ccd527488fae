using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>CrossAttnUpBlock2D</c>: per layer a <see cref="ResnetBlock2D"/> over the hidden state concatenated with the most
/// recent skip, then a <see cref="Transformer2DModel"/> attending to the context; then a nearest x2 + conv <see cref="Upsample2D"/>.
/// </summary>
public sealed class CrossAttnUpBlock2D : nn.Module
{
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock2D> _resnets;
    [ComponentName(Name = "attentions")] private readonly ModuleList<Transformer2DModel> _attentions;
    [ComponentName(Name = "upsamplers")] private readonly ModuleList<Upsample2D>? _upsamplers;

    /// <param name="path">State-dict path, e.g. <c>up_blocks.1</c>.</param>
    /// <param name="inChannels">Channels of the deepest skip this block consumes (diffusers' in_channels).</param>
    /// <param name="prevOutputChannels">Channels of the hidden state entering the block.</param>
    /// <param name="outChannels">Channels of every resnet output.</param>
    /// <param name="numLayers">layers_per_block + 1.</param>
    /// <param name="addUpsample">False for the full-resolution level.</param>
    /// <param name="s">Shared resnet options.</param>
    /// <param name="t">Shared transformer options, with this level's heads and depth.</param>
    internal CrossAttnUpBlock2D(string path, long inChannels, long prevOutputChannels, long outChannels, int numLayers, bool addUpsample,
        ResnetSettings s, TransformerSettings t) : base(path)
    {
        _resnets = new ModuleList<ResnetBlock2D>();
        _attentions = new ModuleList<Transformer2DModel>();
        for (var i = 0; i < numLayers; i++)
        {
            var skipChannels = i == numLayers - 1 ? inChannels : outChannels;
            var resnetIn = i == 0 ? prevOutputChannels : outChannels;
            _resnets.Add(new ResnetBlock2D($"{path}.resnets.{i}", resnetIn + skipChannels, outChannels, s));
            _attentions.Add(t.Build($"{path}.attentions.{i}", outChannels, s.Device));
        }
        if (addUpsample) _upsamplers = new ModuleList<Upsample2D>(new Upsample2D($"{path}.upsamplers.0", outChannels, s.Device));
        RegisterComponents();
    }

    /// <summary>Runs the block, popping one skip tensor per resnet from the end of <paramref name="skips"/>.</summary>
    /// <param name="hidden">[B, C_prev, H, W].</param>
    /// <param name="skips">The U-Net's skip stack; the last entries have spatial size H x W.</param>
    /// <param name="temb">[B, temb_channels].</param>
    /// <param name="context">[B, L, cross_attention_dim].</param>
    /// <param name="maskBias">[B, 1, L] additive key bias, or null.</param>
    /// <returns>[B, C_out, 2H, 2W] (or H, W for the last level).</returns>
    public Tensor Forward(Tensor hidden, List<Tensor> skips, Tensor temb, Tensor context, Tensor? maskBias)
    {
        for (var i = 0; i < _resnets.Count; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            hidden = _resnets[i].call(cat([hidden, skip], 1), temb);
            hidden = _attentions[i].call(hidden, context, maskBias);
        }
        return _upsamplers is null ? hidden : _upsamplers[0].call(hidden);
    }

    /// <summary>FLOPs per sample for an H x W input; also returns the output resolution.</summary>
    internal (long Flops, long Height, long Width) Flops(long height, long width, long contextLength)
    {
        long flops = 0;
        for (var i = 0; i < _resnets.Count; i++)
            flops += _resnets[i].Flops(height, width) + _attentions[i].Flops(height, width, contextLength);
        if (_upsamplers is null) return (flops, height, width);
        return (flops + _upsamplers[0].Flops(height, width), 2 * height, 2 * width);
    }
}
