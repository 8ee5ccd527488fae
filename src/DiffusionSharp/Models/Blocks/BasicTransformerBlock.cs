using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>BasicTransformerBlock</c> as Stable Diffusion uses it (norm_type "layer_norm", activation "geglu", no
/// only_cross_attention, no double_self_attention), pre-norm with a residual around each part:
/// h += attn1(norm1(h)); h += attn2(norm2(h), context, mask); h += ff(norm3(h)).
/// </summary>
public sealed class BasicTransformerBlock : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    /// <summary>The LayerNorms' epsilon (diffusers' norm_eps default; UNet2DConditionModel does not pass its own).</summary>
    private const double LayerNormEps = 1e-5;

    [ComponentName(Name = "norm1")] private readonly LayerNorm _norm1;
    [ComponentName(Name = "attn1")] private readonly TransformerAttention _attn1;
    [ComponentName(Name = "norm2")] private readonly LayerNorm _norm2;
    [ComponentName(Name = "attn2")] private readonly TransformerAttention _attn2;
    [ComponentName(Name = "norm3")] private readonly LayerNorm _norm3;
    [ComponentName(Name = "ff")] private readonly FeedForward _ff;

    /// <param name="path">State-dict path.</param>
    /// <param name="dim">Token channels (heads x headDim).</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="headDim">Channels per head.</param>
    /// <param name="crossAttentionDim">Channels of the context tokens (cross_attention_dim).</param>
    /// <param name="device">Parameter device.</param>
    internal BasicTransformerBlock(string path, long dim, long heads, long headDim, long crossAttentionDim, Device? device) : base(path)
    {
        _norm1 = Norm(dim, device);
        _attn1 = new TransformerAttention(path + ".attn1", dim, dim, heads, headDim, device);
        _norm2 = Norm(dim, device);
        _attn2 = new TransformerAttention(path + ".attn2", dim, crossAttentionDim, heads, headDim, device);
        _norm3 = Norm(dim, device);
        _ff = new FeedForward(path + ".ff", dim, 0.0, device);
        RegisterComponents();
    }

    private static LayerNorm Norm(long dim, Device? device)
    {
        var norm = nn.LayerNorm(dim, LayerNormEps, elementwise_affine: true, device: device);
        // PyTorch starts the affine parameters at 1 and 0; set them explicitly rather than rely on the binding's init.
        using (no_grad())
        {
            nn.init.ones_(norm.weight!);
            nn.init.zeros_(norm.bias!);
        }
        return norm;
    }

    /// <summary>[B, N, dim] tokens, [B, L, cross_attention_dim] context and an optional [B, 1, L] additive key bias to [B, N, dim].</summary>
    public override Tensor forward(Tensor hidden, Tensor context, Tensor? maskBias)
    {
        hidden = _attn1.call(_norm1.call(hidden), null, null) + hidden;
        hidden = _attn2.call(_norm2.call(hidden), context, maskBias) + hidden;
        return _ff.call(_norm3.call(hidden)) + hidden;
    }

    /// <summary>FLOPs per sample for <paramref name="tokens"/> image tokens and <paramref name="contextLength"/> context tokens.</summary>
    internal long Flops(long tokens, long contextLength) =>
        _attn1.Flops(tokens, tokens) + _attn2.Flops(tokens, contextLength) + _ff.Flops(tokens);
}
