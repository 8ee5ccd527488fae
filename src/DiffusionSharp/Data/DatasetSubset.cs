namespace DiffusionSharp.Data;

/// <summary>The samples of another dataset at given indices, in that order (a train or held-out split); labels pass through.</summary>
public sealed class DatasetSubset : IDataset
{
    private readonly IDataset _source;
    private readonly int[] _indices;

    /// <param name="source">The whole dataset.</param>
    /// <param name="indices">Indices into <paramref name="source"/>, each in [0, Count).</param>
    /// <exception cref="ArgumentOutOfRangeException">An index outside the source.</exception>
    public DatasetSubset(IDataset source, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(indices);
        foreach (int i in indices) ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)source.Count, nameof(indices));
        _source = source;
        _indices = [.. indices];
    }

    /// <inheritdoc />
    public int Count => _indices.Length;

    /// <inheritdoc />
    public IReadOnlyList<int> SampleShape => _source.SampleShape;

    /// <inheritdoc />
    public int NumClasses => _source.NumClasses;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => _source.ClassNames;

    /// <summary>The source index of each sample.</summary>
    public IReadOnlyList<int> Indices => _indices;

    /// <inheritdoc />
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
    {
        var mapped = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++) mapped[i] = _indices[indices[i]];
        _source.FillBatch(mapped, samples, labels);
    }
}
