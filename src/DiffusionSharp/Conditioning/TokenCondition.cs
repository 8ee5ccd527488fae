using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Conditioning;

/// <summary>
/// A prompt per sample as token ids (the rows a CLIP tokenizer makes, <c>[B, L]</c> int64), for a network that encodes them
/// itself and trains its text encoder jointly (<see cref="Models.TextConditionedUNet"/>). The null value is the empty
/// prompt's row (<c>[bos, eos, pad, ...]</c>), as Stable Diffusion trains guidance: the unconditional embedding is the
/// encoder's output for "", so it is learned with everything else.
/// </summary>
public sealed class TokenCondition : Condition
{
    /// <summary>Token rows with the empty prompt's row as null value.</summary>
    /// <param name="inputIds">int64 <c>[B, L]</c>; owned by this condition from now on.</param>
    /// <param name="nullIds">The empty prompt's row, int64 <c>[L]</c>; shared, not owned (it outlives every batch).</param>
    public TokenCondition(Tensor inputIds, Tensor nullIds)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(nullIds);
        if (inputIds.dim() != 2) throw new ArgumentException($"inputIds must be [B, L], got [{string.Join(", ", inputIds.shape)}]", nameof(inputIds));
        if (nullIds.dim() != 1 || nullIds.shape[0] != inputIds.shape[1])
            throw new ArgumentException($"nullIds must be [{inputIds.shape[1]}], got [{string.Join(", ", nullIds.shape)}]", nameof(nullIds));
        InputIds = inputIds;
        NullIds = nullIds;
    }

    /// <summary>int64 <c>[B, L]</c>.</summary>
    public Tensor InputIds { get; }

    /// <summary>The empty prompt's ids, int64 <c>[L]</c>.</summary>
    public Tensor NullIds { get; }

    /// <inheritdoc />
    public override ConditionKind Kind => ConditionKind.Tokens;

    /// <inheritdoc />
    public override long BatchSize => InputIds.shape[0];

    /// <inheritdoc />
    public override Condition Slice(long start, long length) =>
        new TokenCondition(InputIds[TensorIndex.Slice(start, start + length)], NullIds);

    /// <inheritdoc />
    public override Condition Unconditional() => new TokenCondition(NullIds.expand(InputIds.shape).clone(), NullIds);

    /// <inheritdoc />
    public override Condition Concat(Condition other) =>
        new TokenCondition(torch.cat([InputIds, Same<TokenCondition>(other).InputIds]), NullIds);

    /// <inheritdoc />
    public override Condition Drop(Tensor drop) =>
        new TokenCondition(torch.where(drop.view(-1, 1), NullIds.expand(InputIds.shape), InputIds), NullIds);

    /// <inheritdoc />
    public override Condition To(Device device) => new TokenCondition(InputIds.to(device), NullIds.to(device));

    /// <inheritdoc />
    protected override void DisposeTensors() => InputIds.Dispose();
}
