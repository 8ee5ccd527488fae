using DiffusionSharp.Data;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// Seeded random samples of any shape <c>[C, ...]</c>, for benchmarking models whose input is not MNIST's 1x28x28 (speed
/// does not depend on the values).
/// </summary>
internal sealed class SyntheticSamples : IDataset
{
    private readonly byte[] _values;

    public SyntheticSamples(int count, IReadOnlyList<int> sampleShape)
    {
        Count = count;
        SampleShape = sampleShape.ToArray();
        _values = new byte[(long)count * SampleSize];
        new Random(0).NextBytes(_values);
    }

    public int Count { get; }
    public IReadOnlyList<int> SampleShape { get; }
    public int SampleSize => SampleShape.Aggregate(1, (a, b) => a * b);
    public int NumClasses => 0;
    public IReadOnlyList<string> ClassNames => [];

    public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
    {
        int size = SampleSize;
        for (int i = 0; i < indices.Length; i++)
        {
            var source = _values.AsSpan(indices[i] * size, size);
            var target = samples.Slice(i * size, size);
            for (int j = 0; j < size; j++) target[j] = source[j] / 127.5f - 1f;
        }
    }
}
