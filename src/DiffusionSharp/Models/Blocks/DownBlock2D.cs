using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// One encoder level: diffusers' <c>DownBlock2D</c> (resnets) or, with attention, <c>AttnDownBlock2D</c> (resnet + attention pairs);
/// then an optional downsampler. Both classes have the same state-dict layout apart from <c>attentions</c>, so one module serves both.
/// </summary>
public sealed class DownBlock2D : nn.Module
{
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock2D> _resnets;
    [ComponentName(Name = "attentions")] private readonly ModuleList<Attention>? _attentions;
    [ComponentName(Name = "downsamplers")] private readonly ModuleList<nn.Module>? _downsamplers;


    /// <param name="path">State-dict path, e.g. <c>down_blocks.1</c>.</param>
    /// <param name="type">DownBlock2D or AttnDownBlock2D.</param>
    /// <param name="inChannels">Channels entering the block.</param>
    /// <param name="outChannels">Channels of every resnet output.</param>
    /// <param name="numLayers">layers_per_block.</param>
    /// <param name="addDownsample">False for the last (lowest-resolution) level.</param>
    /// <param name="s">Shared resnet options.</param>
    /// <param name="headDim">attention_head_dim (or the channel count when null in the config).</param>
    /// <param name="downsamplePadding">downsample_padding.</param>
    /// <param name="downsampleType">downsample_type; DownBlock2D always uses a conv, as in diffusers.</param>
    internal DownBlock2D(string path, DownBlockType type, long inChannels, long outChannels, int numLayers, bool addDownsample,
        ResnetSettings s, long headDim, int downsamplePadding, ResampleType downsampleType) : base(path)
    {
        _resnets = new ModuleList<ResnetBlock2D>();
        if (type == DownBlockType.AttnDownBlock2D) _attentions = new ModuleList<Attention>();
        for (var i = 0; i < numLayers; i++)
        {
            _resnets.Add(new ResnetBlock2D($"{path}.resnets.{i}", i == 0 ? inChannels : outChannels, outChannels, s));
            _attentions?.Add(new Attention($"{path}.attentions.{i}", outChannels, headDim, s.Groups, s.Eps, 1.0, s.Device));
        }
        if (addDownsample)
        {
            if (type == DownBlockType.AttnDownBlock2D && downsampleType == ResampleType.Resnet)
            {
                var resnet = new ResnetBlock2D($"{path}.downsamplers.0", outChannels, outChannels, s, resample: ResnetResample.Down);
                _downsamplers = new ModuleList<nn.Module>(resnet);
            }
            else
            {
                var conv = new Downsample2D($"{path}.downsamplers.0", outChannels, downsamplePadding, s.Device);
                _downsamplers = new ModuleList<nn.Module>(conv);
            }
        }
        RegisterComponents();
    }

    /// <summary>Number of skip tensors this block emits (resnets, plus one after the downsampler).</summary>
    /// <summary>Recompute each ResNet and attention layer's activations in backward (<see cref="UNet2DModel.CheckpointActivations"/>).</summary>
    internal bool CheckpointLayers { get; set; }

    public int SkipCount => _resnets.Count + (_downsamplers is null ? 0 : 1);

    /// <summary>Runs the block; appends each resnet (or attention) output and the downsampled output to <paramref name="skips"/>.</summary>
    /// <param name="hidden">[B, C_in, H, W].</param>
    /// <param name="temb">[B, temb_channels].</param>
    /// <param name="skips">The U-Net's skip stack.</param>
    /// <returns>[B, C_out, H/2, W/2] (or H, W for the last level).</returns>
    public Tensor Forward(Tensor hidden, Tensor temb, List<Tensor> skips)
    {
        for (var i = 0; i < _resnets.Count; i++)
        {
            hidden = ActivationCheckpoint.Layer(_resnets[i], hidden, temb, CheckpointLayers);
            if (_attentions is not null) hidden = ActivationCheckpoint.Layer(_attentions[i], hidden, CheckpointLayers);
            skips.Add(hidden);
        }
        if (_downsamplers?[0] is Downsample2D downsampleConv)
        {
            hidden = downsampleConv.call(hidden);
            skips.Add(hidden);
        }
        else if (_downsamplers?[0] is ResnetBlock2D downsampleResnet)
        {
            hidden = ActivationCheckpoint.Layer(downsampleResnet, hidden, temb, CheckpointLayers);
            skips.Add(hidden);
        }
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
        if (_downsamplers?[0] is Downsample2D downsampleConv)
        {
            flops += downsampleConv.Flops(height, width);
            return (flops, (height + 1) / 2, (width + 1) / 2);
        }
        if (_downsamplers?[0] is ResnetBlock2D downsampleResnet)
        {
            flops += downsampleResnet.Flops(height, width);
            return (flops, height / 2, width / 2);
        }
        return (flops, height, width);
    }
}
