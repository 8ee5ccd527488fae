using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Conditioning;

/// <summary>
/// A sequence of embeddings per sample, such as a text encoder's hidden states (diffusers' <c>encoder_hidden_states</c>
/// <c>[B, L, D]</c> with an optional <c>encoder_attention_mask</c> <c>[B, L]</c>). The null value is the embedding of
/// the empty prompt, given by whoever made the embeddings (the same encoder), <c>[L, D]</c>.
/// </summary>
public sealed class EmbeddingCondition : Condition
{
    /// <summary>Embeddings with their null value.</summary>
    /// <param name="hidden">float <c>[B, L, D]</c>; owned by this condition from now on.</param>
    /// <param name="mask">Optional <c>[B, L]</c> (1 = attend, 0 = padding); owned by this condition.</param>
    /// <param name="nullHidden">The unconditional embedding <c>[L, D]</c>; shared, not owned (it outlives every batch).</param>
    /// <param name="nullMask">Its mask <c>[L]</c>, or null for "attend everywhere"; shared, not owned.</param>
    public EmbeddingCondition(Tensor hidden, Tensor? mask, Tensor nullHidden, Tensor? nullMask = null)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(nullHidden);
        if (hidden.dim() != 3) throw new ArgumentException($"hidden must be [B, L, D], got [{string.Join(", ", hidden.shape)}]", nameof(hidden));
        if (!nullHidden.shape.SequenceEqual(hidden.shape[1..]))
            throw new ArgumentException($"nullHidden must be [{hidden.shape[1]}, {hidden.shape[2]}], got [{string.Join(", ", nullHidden.shape)}]", nameof(nullHidden));
        if (mask is not null && !mask.shape.SequenceEqual(hidden.shape[..2]))
            throw new ArgumentException($"mask must be [{hidden.shape[0]}, {hidden.shape[1]}], got [{string.Join(", ", mask.shape)}]", nameof(mask));
        Hidden = hidden;
        Mask = mask;
        NullHidden = nullHidden;
        NullMask = nullMask;
    }

    /// <summary>float <c>[B, L, D]</c>.</summary>
    public Tensor Hidden { get; }

    /// <summary><c>[B, L]</c> or null.</summary>
    public Tensor? Mask { get; }

    /// <summary>The unconditional embedding <c>[L, D]</c>.</summary>
    public Tensor NullHidden { get; }

    /// <summary>The unconditional mask <c>[L]</c>, or null.</summary>
    public Tensor? NullMask { get; }

    /// <inheritdoc />
    public override ConditionKind Kind => ConditionKind.Embedding;

    /// <inheritdoc />
    public override long BatchSize => Hidden.shape[0];

    /// <inheritdoc />
    public override Condition Slice(long start, long length)
    {
        var rows = TensorIndex.Slice(start, start + length);
        return new EmbeddingCondition(Hidden[rows], Mask?[rows], NullHidden, NullMask);
    }

    /// <inheritdoc />
    public override Condition Unconditional() =>
        new EmbeddingCondition(NullHidden.expand(Hidden.shape).clone(), NullMaskRows(), NullHidden, NullMask);

    /// <inheritdoc />
    public override Condition Concat(Condition other)
    {
        var o = Same<EmbeddingCondition>(other);
        Tensor? mask = Mask is null && o.Mask is null ? null
            : torch.cat([Mask ?? torch.ones(Hidden.shape[..2], Mask?.dtype ?? o.Mask!.dtype, Hidden.device),
                o.Mask ?? torch.ones(o.Hidden.shape[..2], Mask?.dtype ?? o.Mask!.dtype, o.Hidden.device)]);
        return new EmbeddingCondition(torch.cat([Hidden, o.Hidden]), mask, NullHidden, NullMask);
    }

    /// <inheritdoc />
    public override Condition Drop(Tensor drop)
    {
        var hidden = torch.where(drop.view(-1, 1, 1), NullHidden.expand(Hidden.shape), Hidden);
        Tensor? mask = null;
        if (Mask is not null || NullMask is not null)
        {
            var kept = Mask ?? torch.ones(Hidden.shape[..2], NullMask!.dtype, Hidden.device);
            mask = torch.where(drop.view(-1, 1), NullMaskRows() ?? torch.ones_like(kept), kept);
        }
        return new EmbeddingCondition(hidden, mask, NullHidden, NullMask);
    }

    /// <inheritdoc />
    public override Condition To(Device device) =>
        new EmbeddingCondition(Hidden.to(device), Mask?.to(device), NullHidden.to(device), NullMask?.to(device));

    /// <inheritdoc />
    protected override void DisposeTensors()
    {
        Hidden.Dispose();
        Mask?.Dispose();
    }

    private Tensor? NullMaskRows() => NullMask?.expand(Hidden.shape[0], Hidden.shape[1]).clone();
}
