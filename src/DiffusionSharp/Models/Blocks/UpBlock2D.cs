using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// One decoder level: diffusers' <c>UpBlock2D</c> or, with attention, <c>AttnUpBlock2D</c>. Each resnet takes the running hidden
/// state concatenated (along channels) with the most recent skip tensor; then an optional upsampler.
/// </summary>
public sealed class UpBlock2D : nn.Module
{
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock2D> _resnets;
    [ComponentName(Name = "attentions")] private readonly ModuleList<Attention>? _attentions;
    [ComponentName(Name = "upsamplers")] private readonly ModuleList<nn.Module>? _upsamplers;


    /// <param name="path">State-dict path, e.g. <c>up_blocks.0</c>.</param>
    /// <param name="type">UpBlock2D or AttnUpBlock2D.</param>
    /// <param name="inChannels">Channels of the deepest skip this block consumes (diffusers' in_channels).</param>
    /// <param name="prevOutputChannels">Channels of the hidden state entering the block.</param>
    /// <param name="outChannels">Channels of every resnet output.</param>
    /// <param name="numLayers">layers_per_block + 1.</param>
    /// <param name="addUpsample">False for the last (full-resolution) level.</param>
    /// <param name="s">Shared resnet options.</param>
    /// <param name="headDim">attention_head_dim (or the channel count when null in the config).</param>
    /// <param name="upsampleType">upsample_type; UpBlock2D always uses a conv, as in diffusers.</param>
    internal UpBlock2D(string path, UpBlockType type, long inChannels, long prevOutputChannels, long outChannels, int numLayers,
        bool addUpsample, ResnetSettings s, long headDim, ResampleType upsampleType) : base(path)
    {
        _resnets = new ModuleList<ResnetBlock2D>();
        if (type == UpBlockType.AttnUpBlock2D) _attentions = new ModuleList<Attention>();
        for (var i = 0; i < numLayers; i++)
        {
            var skipChannels = i == numLayers - 1 ? inChannels : outChannels;
            var resnetIn = i == 0 ? prevOutputChannels : outChannels;
            _resnets.Add(new ResnetBlock2D($"{path}.resnets.{i}", resnetIn + skipChannels, outChannels, s));
            _attentions?.Add(new Attention($"{path}.attentions.{i}", outChannels, headDim, s.Groups, s.Eps, 1.0, s.Device));
        }
        if (addUpsample)
        {
            if (type == UpBlockType.AttnUpBlock2D && upsampleType == ResampleType.Resnet)
            {
                var resnet = new ResnetBlock2D($"{path}.upsamplers.0", outChannels, outChannels, s, resample: ResnetResample.Up);
                _upsamplers = new ModuleList<nn.Module>(resnet);
            }
            else
            {
                var conv = new Upsample2D($"{path}.upsamplers.0", outChannels, s.Device);
                _upsamplers = new ModuleList<nn.Module>(conv);
            }
        }
        RegisterComponents();
    }

    /// <summary>Recompute each layer's activations in backward (<see cref="UNet2DModel.CheckpointActivations"/>).</summary>
    internal bool CheckpointLayers { get; set; }

    /// <summary>Number of skip tensors this block consumes (one per resnet).</summary>
    public int SkipCount => _resnets.Count;

    /// <summary>Runs the block, popping one skip tensor per resnet from the end of <paramref name="skips"/>.</summary>
    /// <param name="hidden">[B, C_prev, H, W].</param>
    /// <param name="skips">The U-Net's skip stack; the last entries must have spatial size H x W.</param>
    /// <param name="temb">[B, temb_channels].</param>
    /// <returns>[B, C_out, 2H, 2W] (or H, W for the last level).</returns>
    public Tensor Forward(Tensor hidden, List<Tensor> skips, Tensor temb)
    {
        for (var i = 0; i < _resnets.Count; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            hidden = ActivationCheckpoint.LayerOnConcat(_resnets[i], hidden, skip, temb, CheckpointLayers);
            if (_attentions is not null) hidden = ActivationCheckpoint.Layer(_attentions[i], hidden, CheckpointLayers);
        }
        if (_upsamplers?[0] is Upsample2D upsampleConv) hidden = ActivationCheckpoint.Layer(upsampleConv, hidden, CheckpointLayers);
        else if (_upsamplers?[0] is ResnetBlock2D upsampleResnet) hidden = ActivationCheckpoint.Layer(upsampleResnet, hidden, temb, CheckpointLayers);
        return hidden;
    }

    /// <summary>FLOPs per image for an H x W input; also returns the output resolution.</summary>
    internal (long Flops, long Height, long Width) Flops(long height, long width)
    {
        long flops = 0;
        for (var i = 0; i < _resnets.Count; i++)
        {
            flops += _resnets[i].Flops(height, width);
            if (_attentions is not null) flops += _attentions[i].Flops(height, width);
        }
        if (_upsamplers?[0] is Upsample2D upsampleConv) return (flops + upsampleConv.Flops(height, width), 2 * height, 2 * width);
        if (_upsamplers?[0] is ResnetBlock2D upsampleResnet) return (flops + upsampleResnet.Flops(height, width), 2 * height, 2 * width);
        return (flops, height, width);
    }
}
