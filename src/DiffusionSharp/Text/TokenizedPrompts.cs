using static TorchSharp.torch;

namespace DiffusionSharp.Text;

/// <summary>
/// Prompts as fixed-length rows of token ids, the way a Stable Diffusion pipeline calls its tokenizer
/// (<c>padding="max_length", truncation=True</c>): <c>[bos] + ids[:L-2] + [eos]</c>, then the pad id up to L.
/// </summary>
public sealed class TokenizedPrompts
{
    internal TokenizedPrompts(long[] inputIds, long[] attentionMask, int batchSize, int length, IReadOnlyList<PromptTruncation> truncations)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
        BatchSize = batchSize;
        Length = length;
        Truncations = truncations;
    }

    /// <summary>Token ids <c>[B, L]</c> row-major.</summary>
    public IReadOnlyList<long> InputIds { get; }

    /// <summary>1 for bos, the prompt's tokens and eos, 0 for padding; <c>[B, L]</c> row-major.</summary>
    public IReadOnlyList<long> AttentionMask { get; }

    /// <summary>B, the number of prompts.</summary>
    public int BatchSize { get; }

    /// <summary>L, the row length (the tokenizer's <c>model_max_length</c>, 77 for CLIP).</summary>
    public int Length { get; }

    /// <summary>The prompts that were cut to fit, in batch order; empty when none was.</summary>
    public IReadOnlyList<PromptTruncation> Truncations { get; }

    /// <summary>The ids as an int64 tensor <c>[B, L]</c> on <paramref name="device"/> (null = the CPU).</summary>
    public Tensor InputIdsTensor(Device? device = null) => tensor(InputIds.ToArray(), [BatchSize, Length], ScalarType.Int64, device);

    /// <summary>The attention mask as an int64 tensor <c>[B, L]</c> on <paramref name="device"/> (null = the CPU).</summary>
    public Tensor AttentionMaskTensor(Device? device = null) => tensor(AttentionMask.ToArray(), [BatchSize, Length], ScalarType.Int64, device);
}
