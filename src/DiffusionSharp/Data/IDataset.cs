namespace DiffusionSharp.Data;

/// <summary>
/// A fixed, indexable set of samples of one shape <c>[C, ...]</c> (images <c>[C, H, W]</c>, audio <c>[C, L]</c>),
/// optionally labelled. Implementations keep their data compact and convert only the requested indices, so the loader
/// can fill one pooled buffer per batch and make one tensor from it.
/// </summary>
/// <remarks>
/// Class labels travel as <see cref="FillBatch"/>'s labels; any other conditioning (text embeddings, say) comes from
/// a dataset that also implements <see cref="IConditionedDataset"/>.
/// </remarks>
public interface IDataset
{
    /// <summary>Number of samples; indices run from 0 to <c>Count - 1</c>.</summary>
    int Count { get; }

    /// <summary>The shape of one sample, channels first: <c>[C, ...]</c>.</summary>
    IReadOnlyList<int> SampleShape { get; }

    /// <summary>Floats per sample: the product of <see cref="SampleShape"/>.</summary>
    int SampleSize => SampleShape.Aggregate(1, (a, b) => a * b);

    /// <summary>Number of classes, labels run from 0 to <c>NumClasses - 1</c>; 0 when the dataset has no labels.</summary>
    int NumClasses { get; }

    /// <summary>Name of each class, indexed by label (length <see cref="NumClasses"/>); empty when there are no labels.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>True when every sample has a class label.</summary>
    bool HasLabels => NumClasses > 0;

    /// <summary>
    /// Writes the samples at <paramref name="indices"/> into <paramref name="samples"/> as consecutive blocks of
    /// <see cref="SampleSize"/> floats (row-major <see cref="SampleShape"/>, values in [-1, 1]), and their labels into
    /// <paramref name="labels"/> when the dataset has labels.
    /// </summary>
    /// <param name="indices">Dataset indices, each in <c>[0, Count)</c>; repeats allowed.</param>
    /// <param name="samples">At least <c>indices.Length * SampleSize</c> floats.</param>
    /// <param name="labels">At least <c>indices.Length</c> values when <see cref="HasLabels"/>; ignored (may be empty) otherwise.</param>
    void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels);
}
