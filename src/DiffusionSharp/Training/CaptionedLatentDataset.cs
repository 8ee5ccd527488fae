using DiffusionSharp.Conditioning;
using DiffusionSharp.Data;
using DiffusionSharp.Text;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// Latents with a prompt per image, for text-conditioned training (<see cref="Models.TextConditionedUNet"/>): the
/// <see cref="LatentDataset"/>'s samples, and each image's caption tokenized once into a CLIP row of
/// <see cref="ClipTokenizer.ModelMaxLength"/> ids (<c>[bos] + ids[:L-2] + [eos]</c>, padded, as a Stable Diffusion pipeline
/// tokenizes its prompt). A batch's condition is a <see cref="TokenCondition"/> whose null value is the empty prompt's row.
/// </summary>
public sealed class CaptionedLatentDataset : IConditionedDataset, IDisposable
{
    private readonly long[] _ids;
    private readonly Tensor _nullIds;

    /// <summary>Tokenizes <paramref name="captions"/> (one per latent, in order) with the CLIP tokenizer in <paramref name="tokenizerFolder"/>.</summary>
    /// <exception cref="ArgumentException">The caption count differs from the latents'.</exception>
    /// <exception cref="InvalidInputException">The tokenizer folder is missing or malformed.</exception>
    public CaptionedLatentDataset(LatentDataset latents, IReadOnlyList<string> captions, string tokenizerFolder)
    {
        ArgumentNullException.ThrowIfNull(latents);
        ArgumentNullException.ThrowIfNull(captions);
        ArgumentException.ThrowIfNullOrEmpty(tokenizerFolder);
        if (captions.Count != latents.Count)
            throw new ArgumentException($"{captions.Count} captions for {latents.Count} latents", nameof(captions));
        var tokenizer = ClipTokenizer.FromPretrained(tokenizerFolder);
        TokenizerFolder = Path.GetFullPath(tokenizerFolder);
        Tokenizer = tokenizer;
        Latents = latents;
        Captions = captions;
        var rows = tokenizer.Tokenize(captions);
        _ids = [.. rows.InputIds];
        Length = rows.Length;
        Truncations = rows.Truncations;
        var empty = tokenizer.Tokenize([""]);
        _nullIds = tensor(empty.InputIds.ToArray(), [Length], ScalarType.Int64).DetachFromDisposeScope();
    }

    /// <summary>The tokenizer folder the captions were tokenized with (copied into a run's <c>tokenizer/</c>).</summary>
    public string TokenizerFolder { get; }

    /// <summary>The tokenizer.</summary>
    public ClipTokenizer Tokenizer { get; }

    /// <summary>The latents (what the U-Net sees).</summary>
    public LatentDataset Latents { get; }

    /// <summary>Each image's caption, in dataset order.</summary>
    public IReadOnlyList<string> Captions { get; }

    /// <summary>The row length L (77 for CLIP).</summary>
    public int Length { get; }

    /// <summary>Captions longer than L - 2 tokens, cut as diffusers cuts them (index = the image).</summary>
    public IReadOnlyList<PromptTruncation> Truncations { get; }

    /// <summary>The empty prompt's row, int64 <c>[L]</c>: the null value of the conditions.</summary>
    public Tensor NullIds => _nullIds;

    /// <summary>The latent dataset inside <paramref name="data"/>: itself, or a captioned one's latents; null for pixels.</summary>
    public static LatentDataset? LatentsOf(IDataset data) => data as LatentDataset ?? (data as CaptionedLatentDataset)?.Latents;

    /// <inheritdoc />
    public int Count => Latents.Count;

    /// <inheritdoc />
    public IReadOnlyList<int> SampleShape => Latents.SampleShape;

    /// <summary>None: the prompts, not class labels, condition the samples.</summary>
    public int NumClasses => 0;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => [];

    /// <inheritdoc />
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels) =>
        Latents.FillBatch(indices, samples, Latents.NumClasses > 0 ? new long[indices.Length] : Span<long>.Empty);

    /// <summary>The token rows of the images at <paramref name="indices"/>, <c>[n, L]</c> int64 on the CPU.</summary>
    public Condition ConditionOf(ReadOnlySpan<int> indices)
    {
        var rows = new long[indices.Length * Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int k = indices[i];
            if ((uint)k >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"index {k} is outside [0, {Count})");
            _ids.AsSpan(k * Length, Length).CopyTo(rows.AsSpan(i * Length, Length));
        }
        return new TokenCondition(tensor(rows, [indices.Length, Length], ScalarType.Int64), _nullIds);
    }

    /// <summary>Releases the null row.</summary>
    public void Dispose() => _nullIds.Dispose();
}
