using DiffusionSharp.Data;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// Seeded random images of any shape, for benchmarking models whose input is not MNIST's 1x28x28 (speed does not depend
/// on the pixel values).
/// </summary>
internal sealed class SyntheticImages : IImageDataset
{
    private readonly byte[] _pixels;

    public SyntheticImages(int count, int channels, int height, int width)
    {
        (Count, Channels, Height, Width) = (count, channels, height, width);
        _pixels = new byte[(long)count * channels * height * width];
        new Random(0).NextBytes(_pixels);
    }

    public int Count { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int NumClasses => 0;
    public IReadOnlyList<string> ClassNames => [];

    public void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels)
    {
        int size = Channels * Height * Width;
        for (int i = 0; i < indices.Length; i++)
        {
            var source = _pixels.AsSpan(indices[i] * size, size);
            var target = images.Slice(i * size, size);
            for (int j = 0; j < size; j++) target[j] = source[j] / 127.5f - 1f;
        }
    }
}
