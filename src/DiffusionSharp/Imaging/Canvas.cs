namespace DiffusionSharp.Imaging;

/// <summary>A planar 8-bit drawing surface filled with one gray level, onto which images are pasted.</summary>
internal sealed class Canvas
{
    private readonly byte[] _pixels;

    public Canvas(int channels, int height, int width, byte fill)
    {
        Channels = channels;
        Height = height;
        Width = width;
        _pixels = new byte[channels * height * width];
        Array.Fill(_pixels, fill);
    }

    public int Channels { get; }

    public int Height { get; }

    public int Width { get; }

    /// <summary>Copies <paramref name="image"/> (same channel count) with its top-left corner at (<paramref name="top"/>, <paramref name="left"/>).</summary>
    public void Paste(PixelImage image, int top, int left)
    {
        if (image.Channels != Channels) throw new ArgumentException($"expected {Channels} channels, found {image.Channels}", nameof(image));
        if (top < 0 || left < 0 || top + image.Height > Height || left + image.Width > Width)
            throw new ArgumentOutOfRangeException(nameof(image), $"{image.Height}x{image.Width} at ({top}, {left}) does not fit {Height}x{Width}");
        for (var c = 0; c < Channels; c++)
            for (var y = 0; y < image.Height; y++)
                image.Pixels.AsSpan((c * image.Height + y) * image.Width, image.Width)
                    .CopyTo(_pixels.AsSpan((c * Height + top + y) * Width + left));
    }

    public PixelImage ToImage() => new(Channels, Height, Width, _pixels);
}
