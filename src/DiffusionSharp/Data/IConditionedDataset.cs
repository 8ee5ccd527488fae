using DiffusionSharp.Conditioning;

namespace DiffusionSharp.Data;

/// <summary>
/// A dataset whose samples carry a condition other than a class label, for instance a caption's text embeddings
/// (an <see cref="EmbeddingCondition"/>, with the embedding of the empty caption as its null value).
/// </summary>
public interface IConditionedDataset : IDataset
{
    /// <summary>The condition of the samples at <paramref name="indices"/>, one row each, in that order (on the CPU).</summary>
    Condition ConditionOf(ReadOnlySpan<int> indices);
}
