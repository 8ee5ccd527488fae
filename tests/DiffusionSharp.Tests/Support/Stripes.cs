using DiffusionSharp.Data;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Support;

/// <summary>Unlabelled 8x8 images of horizontal stripes, one period per image: a fixed batch for overfitting tests.</summary>
public sealed class Stripes(int count) : IImageDataset
{
    public int Count => count;
    public int Channels => 1;
    public int Height => 8;
    public int Width => 8;
    public int NumClasses => 0;
    public IReadOnlyList<string> ClassNames => [];

    public void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels)
    {
        for (int n = 0; n < indices.Length; n++)
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                    images[n * 64 + y * 8 + x] = (y / (1 + indices[n] % 4)) % 2 == 0 ? 1f : -1f;
    }

    /// <summary>Every image, [count, 1, 8, 8].</summary>
    public Tensor All()
    {
        var pixels = new float[count * 64];
        FillBatch(Enumerable.Range(0, count).ToArray(), pixels, []);
        return tensor(pixels, [count, 1, 8, 8]);
    }
}
