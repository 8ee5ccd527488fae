using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>Transformer2DModel</c> for continuous inputs, as the cross-attention UNet blocks build it: GroupNorm (eps 1e-6),
/// <c>proj_in</c> (1x1 conv, or Linear with use_linear_projection), per-pixel tokens through the <see cref="BasicTransformerBlock"/>s,
/// <c>proj_out</c> back to the input channels, plus the input (residual).
/// </summary>
public sealed class Transformer2DModel : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    /// <summary>diffusers hard-codes this GroupNorm epsilon in Transformer2DModel (not the UNet's norm_eps).</summary>
    private const double NormEps = 1e-6;

    [ComponentName(Name = "norm")] private readonly GroupNorm _norm;
    [ComponentName(Name = "proj_in")] private readonly nn.Module<Tensor, Tensor> _projIn;
    [ComponentName(Name = "transformer_blocks")] private readonly ModuleList<BasicTransformerBlock> _blocks;
    [ComponentName(Name = "proj_out")] private readonly nn.Module<Tensor, Tensor> _projOut;

    private readonly long _channels;
    private readonly long _inner;
    private readonly bool _linearProjection;

    /// <param name="path">State-dict path, e.g. <c>down_blocks.0.attentions.1</c>.</param>
    /// <param name="channels">Channels C of the feature map.</param>
    /// <param name="heads">Attention heads; each is C / heads channels wide (integer division, as diffusers).</param>
    /// <param name="layers">BasicTransformerBlocks (transformer_layers_per_block).</param>
    /// <param name="crossAttentionDim">cross_attention_dim.</param>
    /// <param name="groups">norm_num_groups.</param>
    /// <param name="linearProjection">use_linear_projection.</param>
    /// <param name="device">Parameter device.</param>
    internal Transformer2DModel(string path, long channels, long heads, int layers, long crossAttentionDim, int groups,
        bool linearProjection, Device? device) : base(path)
    {
        var headDim = channels / heads;
        _channels = channels;
        _inner = heads * headDim;
        _linearProjection = linearProjection;
        _norm = Layers.GroupNorm(channels, groups, NormEps, path + ".norm", device);
        _projIn = linearProjection ? nn.Linear(channels, _inner, device: device) : nn.Conv2d(channels, _inner, 1, device: device);
        _blocks = new ModuleList<BasicTransformerBlock>();
        for (var i = 0; i < layers; i++)
            _blocks.Add(new BasicTransformerBlock($"{path}.transformer_blocks.{i}", _inner, heads, headDim, crossAttentionDim, device));
        _projOut = linearProjection ? nn.Linear(_inner, channels, device: device) : nn.Conv2d(_inner, channels, 1, device: device);
        RegisterComponents();
    }

    /// <summary>Attends every pixel to itself and to the context.</summary>
    /// <param name="input">[B, C, H, W].</param>
    /// <param name="context">[B, L, cross_attention_dim] (encoder_hidden_states).</param>
    /// <param name="maskBias">[B, 1, L] additive key bias (0 keep, -10000 drop), or null.</param>
    /// <returns>[B, C, H, W].</returns>
    public override Tensor forward(Tensor input, Tensor context, Tensor? maskBias)
    {
        long b = input.shape[0], h = input.shape[2], w = input.shape[3];
        // Temporaries are released on return, as in ResnetBlock2D: memory is bounded by one block under inference mode.
        using var scope = NewDisposeScope();
        var x = _norm.call(input);
        Tensor tokens;
        if (_linearProjection) tokens = _projIn.call(x.permute(0, 2, 3, 1).reshape(b, h * w, _channels));
        else tokens = _projIn.call(x).permute(0, 2, 3, 1).reshape(b, h * w, _inner);
        foreach (var block in _blocks) tokens = block.call(tokens, context, maskBias);
        Tensor output;
        if (_linearProjection) output = _projOut.call(tokens).reshape(b, h, w, _channels).permute(0, 3, 1, 2);
        else output = _projOut.call(tokens.reshape(b, h, w, _inner).permute(0, 3, 1, 2).contiguous());
        return (output + input).MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs per sample for an H x W map and <paramref name="contextLength"/> context tokens.</summary>
    internal long Flops(long height, long width, long contextLength)
    {
        var n = height * width;
        return Layers.LinearFlops(_channels, _inner, n) + _blocks.Sum(block => block.Flops(n, contextLength))
            + Layers.LinearFlops(_inner, _channels, n);
    }
}
