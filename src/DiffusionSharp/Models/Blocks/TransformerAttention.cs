using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>Attention</c> as a <c>BasicTransformerBlock</c> builds it (<c>bias=False</c>, <c>out_bias=True</c>): multi-head
/// scaled dot-product attention of token queries over the same tokens (<c>attn1</c>) or over a context sequence such as text
/// embeddings (<c>attn2</c>), scale 1/sqrt(head_dim), then <c>to_out.0</c>. No norm and no residual: the block adds those.
/// </summary>
/// <remarks>
/// Unlike <see cref="Attention"/> (the UNet2DModel spatial attention: GroupNorm, biased q/k/v, residual inside), this one works on
/// <c>[B, N, C]</c> tokens, has bias-free q/k/v and takes an optional additive mask over the keys.
/// </remarks>
public sealed class TransformerAttention : nn.Module<Tensor, Tensor?, Tensor?, Tensor>
{
    [ComponentName(Name = "to_q")] private readonly Linear _toQ;
    [ComponentName(Name = "to_k")] private readonly Linear _toK;
    [ComponentName(Name = "to_v")] private readonly Linear _toV;
    [ComponentName(Name = "to_out")] private readonly ModuleList<Linear> _toOut;

    private readonly long _queryDim;
    private readonly long _contextDim;
    private readonly long _heads;
    private readonly long _headDim;

    /// <param name="path">State-dict path (module name).</param>
    /// <param name="queryDim">Channels C of the query tokens (and of the output).</param>
    /// <param name="contextDim">Channels of the key/value tokens: C for self-attention, cross_attention_dim for cross-attention.</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="headDim">Channels per head (inner width = heads x headDim).</param>
    /// <param name="device">Parameter device.</param>
    internal TransformerAttention(string path, long queryDim, long contextDim, long heads, long headDim, Device? device) : base(path)
    {
        _queryDim = queryDim;
        _contextDim = contextDim;
        _heads = heads;
        _headDim = headDim;
        var inner = heads * headDim;
        _toQ = nn.Linear(queryDim, inner, hasBias: false, device: device);
        _toK = nn.Linear(contextDim, inner, hasBias: false, device: device);
        _toV = nn.Linear(contextDim, inner, hasBias: false, device: device);
        // diffusers' to_out is [Linear, Dropout]; the dropout has no parameters, and p is 0 in every UNet2DConditionModel config.
        _toOut = nn.ModuleList(nn.Linear(inner, queryDim, device: device));
        RegisterComponents();
    }

    /// <summary>Attends <paramref name="hidden"/> to <paramref name="context"/> (or to itself).</summary>
    /// <param name="hidden">[B, N, C] query tokens.</param>
    /// <param name="context">[B, L, contextDim] key/value tokens, or null for self-attention.</param>
    /// <param name="maskBias">Additive bias over the keys, [B, 1, L] (0 = attend, -10000 = padding: diffusers' encoder_attention_mask form), or null.</param>
    /// <returns>[B, N, C].</returns>
    public override Tensor forward(Tensor hidden, Tensor? context, Tensor? maskBias)
    {
        var b = hidden.shape[0];
        var n = hidden.shape[1];
        var kv = context ?? hidden;
        var q = SplitHeads(_toQ.call(hidden), b);
        var k = SplitHeads(_toK.call(kv), b);
        var v = SplitHeads(_toV.call(kv), b);
        // [B, 1, L] -> [B, 1, 1, L]: one bias row per sample, shared by every head and query (diffusers' prepare_attention_mask + view).
        var attended = SmallHeadAttention.Attend(q, k, v, maskBias?.unsqueeze(1));
        return _toOut[0].call(attended.transpose(1, 2).reshape(b, n, _heads * _headDim));
    }

    private Tensor SplitHeads(Tensor t, long batch) => t.view(batch, -1, _heads, _headDim).transpose(1, 2);

    /// <summary>FLOPs per sample for <paramref name="queries"/> query tokens attending to <paramref name="keys"/> tokens: projections, QK^T and AV.</summary>
    internal long Flops(long queries, long keys)
    {
        var inner = _heads * _headDim;
        return Layers.LinearFlops(_queryDim, inner, queries) + 2 * Layers.LinearFlops(_contextDim, inner, keys)
            + Layers.LinearFlops(inner, _queryDim, queries) + 2 * (2 * queries * keys * inner);
    }
}
