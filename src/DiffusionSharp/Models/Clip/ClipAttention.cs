using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Clip;

/// <summary>
/// transformers' <c>CLIPAttention</c>: multi-head self-attention with biased q/k/v/out projections and scale head_dim^-1/2;
/// the additive mask (causal plus padding) comes from the caller.
/// </summary>
internal sealed class ClipAttention : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "k_proj")] private readonly Linear _kProj;
    [ComponentName(Name = "v_proj")] private readonly Linear _vProj;
    [ComponentName(Name = "q_proj")] private readonly Linear _qProj;
    [ComponentName(Name = "out_proj")] private readonly Linear _outProj;

    private readonly long _heads;
    private readonly long _headDim;
    private readonly double _dropout;

    public ClipAttention(ClipTextConfig config, Device? device, Generator? generator) : base("self_attn")
    {
        long d = config.HiddenSize;
        _heads = config.NumAttentionHeads;
        _headDim = config.HeadDim;
        _dropout = config.AttentionDropout;
        _kProj = nn.Linear(d, d, device: device);
        _vProj = nn.Linear(d, d, device: device);
        _qProj = nn.Linear(d, d, device: device);
        _outProj = nn.Linear(d, d, device: device);
        // _init_weights: in_proj_std = D^-1/2 (2 layers)^-1/2 factor, out_proj_std = D^-1/2 factor; q, k, v, out in that order.
        var inStd = Math.Pow(d, -0.5) * Math.Pow(2.0 * config.NumHiddenLayers, -0.5) * config.InitializerFactor;
        var outStd = Math.Pow(d, -0.5) * config.InitializerFactor;
        ClipInit.Normal(_qProj.weight!, _qProj.bias, inStd, generator);
        ClipInit.Normal(_kProj.weight!, _kProj.bias, inStd, generator);
        ClipInit.Normal(_vProj.weight!, _vProj.bias, inStd, generator);
        ClipInit.Normal(_outProj.weight!, _outProj.bias, outStd, generator);
        RegisterComponents();
    }

    /// <summary>[B, L, D] and an additive mask broadcastable to [B, heads, L, L] to [B, L, D].</summary>
    public override Tensor forward(Tensor hidden, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var b = hidden.shape[0];
        var q = SplitHeads(_qProj.call(hidden), b);
        var k = SplitHeads(_kProj.call(hidden), b);
        var v = SplitHeads(_vProj.call(hidden), b);
        // softmax(q kᵀ / sqrt(head_dim) + mask) v, transformers' eager attention.
        var attended = F.scaled_dot_product_attention(q, k, v, mask, training ? _dropout : 0.0);
        attended = attended.transpose(1, 2).reshape(b, -1, _heads * _headDim);
        return _outProj.call(attended).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor t, long batch) => t.view(batch, -1, _heads, _headDim).transpose(1, 2);
}
