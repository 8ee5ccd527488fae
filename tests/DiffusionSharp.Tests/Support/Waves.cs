using DiffusionSharp.Data;

namespace DiffusionSharp.Tests.Support;

/// <summary>1-D samples [2, 16]: a sine and a cosine whose frequency (1..<paramref name="frequencies"/>) depends on the index.</summary>
public sealed class Waves(int count, int frequencies = 4) : IDataset
{
    public int Count => count;
    public IReadOnlyList<int> SampleShape => [2, 16];
    public int NumClasses => 0;
    public IReadOnlyList<string> ClassNames => [];

    public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
    {
        for (var b = 0; b < indices.Length; b++)
            for (var j = 0; j < 16; j++)
            {
                double phase = (1 + indices[b] % frequencies) * j * Math.PI / 16;
                samples[b * 32 + j] = (float)Math.Sin(phase);
                samples[b * 32 + 16 + j] = (float)Math.Cos(phase);
            }
    }
}
