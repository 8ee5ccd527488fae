using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>UNetMidBlock2D</c> with one layer: resnet, attention (when <c>add_attention</c>), resnet, at the lowest resolution.
/// Its attention norm uses <c>attn_norm_num_groups</c>, falling back to <c>norm_num_groups</c> with the default time shift and to
/// no norm at all with <c>scale_shift</c>, exactly as diffusers.
/// </summary>
public sealed class UNetMidBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
    [ComponentName(Name = "attentions")] private readonly ModuleList<Attention> _attentions;
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock2D> _resnets;

    internal UNetMidBlock2D(string path, long channels, ResnetSettings s, long headDim, int? attnGroups, bool addAttention,
        double outputScaleFactor) : base(path)
    {
        var groupsKey = attnGroups is null ? "norm_num_groups" : "attn_norm_num_groups";
        attnGroups ??= s.TimeScaleShift == ResnetTimeScaleShift.Default ? s.Groups : null;
        _resnets = new ModuleList<ResnetBlock2D>(new ResnetBlock2D($"{path}.resnets.0", channels, channels, s, outputScaleFactor));
        _attentions = new ModuleList<Attention>();
        if (addAttention)
        {
            _attentions.Add(new Attention($"{path}.attentions.0", channels, headDim, attnGroups, s.Eps, outputScaleFactor, s.Device, groupsKey));
        }
        _resnets.Add(new ResnetBlock2D($"{path}.resnets.1", channels, channels, s, outputScaleFactor));
        RegisterComponents();
    }

    /// <summary>Recompute each layer's activations in backward (<see cref="UNet2DModel.CheckpointActivations"/>).</summary>
    internal bool CheckpointLayers { get; set; }

    /// <summary>[B, C, H, W] to [B, C, H, W]; <paramref name="temb"/> is [B, temb_channels], or null in a VAE (no time embedding).</summary>
    public override Tensor forward(Tensor hidden, Tensor? temb)
    {
        hidden = ActivationCheckpoint.Layer(_resnets[0], hidden, temb, CheckpointLayers);
        if (_attentions.Count > 0) hidden = ActivationCheckpoint.Layer(_attentions[0], hidden, CheckpointLayers);
        return ActivationCheckpoint.Layer(_resnets[1], hidden, temb, CheckpointLayers);
    }

    /// <summary>FLOPs per image for an H x W input.</summary>
    internal long Flops(long height, long width) =>
        _resnets[0].Flops(height, width) + _resnets[1].Flops(height, width) + _attentions.Sum(a => a.Flops(height, width));
}
