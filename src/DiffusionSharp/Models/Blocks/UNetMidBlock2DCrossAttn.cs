using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>UNetMidBlock2DCrossAttn</c> with one layer: resnet, <see cref="Transformer2DModel"/>, resnet, at the lowest
/// resolution; the resnets use <c>mid_block_scale_factor</c> as their output scale.
/// </summary>
public sealed class UNetMidBlock2DCrossAttn : nn.Module
{
    [ComponentName(Name = "attentions")] private readonly ModuleList<Transformer2DModel> _attentions;
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock2D> _resnets;

    internal UNetMidBlock2DCrossAttn(string path, long channels, ResnetSettings s, TransformerSettings t, double outputScaleFactor) : base(path)
    {
        _resnets = new ModuleList<ResnetBlock2D>(
            new ResnetBlock2D($"{path}.resnets.0", channels, channels, s, outputScaleFactor),
            new ResnetBlock2D($"{path}.resnets.1", channels, channels, s, outputScaleFactor));
        _attentions = new ModuleList<Transformer2DModel>(t.Build($"{path}.attentions.0", channels, s.Device));
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] with temb [B, temb_channels], context [B, L, D] and an optional [B, 1, L] key bias, to [B, C, H, W].</summary>
    public Tensor Forward(Tensor hidden, Tensor temb, Tensor context, Tensor? maskBias)
    {
        hidden = _resnets[0].call(hidden, temb);
        hidden = _attentions[0].call(hidden, context, maskBias);
        return _resnets[1].call(hidden, temb);
    }

    /// <summary>FLOPs per sample for an H x W input.</summary>
    internal long Flops(long height, long width, long contextLength) =>
        _resnets[0].Flops(height, width) + _resnets[1].Flops(height, width) + _attentions[0].Flops(height, width, contextLength);
}
