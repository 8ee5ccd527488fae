using static TorchSharp.torch;

namespace DiffusionSharp.Imaging;

/// <summary>
/// Lays B images of one size out as one picture: rows of <c>nrow</c> images (torchvision's <c>make_grid</c> convention),
/// separated and framed by <c>padding</c> pixels, each image enlarged by an integer factor so that tiny images
/// (28 x 28 MNIST) are viewable without blur.
/// </summary>
public static class ImageGrid
{
    /// <summary>Default gap between images, in output pixels.</summary>
    public const int DefaultPadding = 2;

    /// <summary>Gray level of the gaps: mid-gray, visible against both black and white backgrounds.</summary>
    public const byte PadValue = 128;

    /// <summary>
    /// The default integer enlargement for images whose shorter side is <paramref name="side"/> pixels: the smallest
    /// factor that makes it at least 64 pixels (28 → 3), at most 8; 1 for images of 64 pixels or more.
    /// </summary>
    public static int AutoScale(int side)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(side, 1);
        return Math.Clamp((64 + side - 1) / side, 1, 8);
    }

    /// <summary>Composes <paramref name="images"/> (all the same size; gray ones become RGB when any is RGB).</summary>
    /// <param name="images">At least one image.</param>
    /// <param name="nrow">Images per row; default ⌈√B⌉.</param>
    /// <param name="padding">Gap between and around images in output pixels, ≥ 0.</param>
    /// <param name="scale">Integer enlargement, ≥ 1; default <see cref="AutoScale"/> of the image size.</param>
    public static PixelImage Compose(IReadOnlyList<PixelImage> images, int? nrow = null, int padding = DefaultPadding, int? scale = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("expected at least one image", nameof(images));
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        var first = images[0];
        if (images.Any(i => i.Height != first.Height || i.Width != first.Width))
            throw new ArgumentException($"expected images of one size, {first.Height}x{first.Width} like the first", nameof(images));
        var columns = Math.Min(nrow ?? (int)Math.Ceiling(Math.Sqrt(images.Count)), images.Count);
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(nrow), nrow, "expected ≥ 1");
        var k = scale ?? AutoScale(Math.Min(first.Height, first.Width));
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1, nameof(scale));

        var rows = (images.Count + columns - 1) / columns;
        var channels = images.Max(i => i.Channels);
        var (cellH, cellW) = (first.Height * k, first.Width * k);
        var canvas = new Canvas(channels, rows * (cellH + padding) + padding, columns * (cellW + padding) + padding, PadValue);
        for (var i = 0; i < images.Count; i++)
        {
            var image = images[i].Upscale(k);
            if (channels == 3) image = image.ToRgb();
            canvas.Paste(image, padding + (i / columns) * (cellH + padding), padding + (i % columns) * (cellW + padding));
        }
        return canvas.ToImage();
    }

    /// <summary>Composes a batch <c>[B, C, H, W]</c> (C = 1 or 3, values in [-1, 1]); see <see cref="Compose(IReadOnlyList{PixelImage}, int?, int, int?)"/>.</summary>
    public static PixelImage Compose(Tensor images, int? nrow = null, int padding = DefaultPadding, int? scale = null) =>
        Compose(PixelImage.FromBatch(images), nrow, padding, scale);

    /// <summary>PNG bytes of <see cref="Compose(IReadOnlyList{PixelImage}, int?, int, int?)"/>.</summary>
    public static byte[] ToPng(IReadOnlyList<PixelImage> images, int? nrow = null, int padding = DefaultPadding, int? scale = null) =>
        SkiaImages.EncodePng(Compose(images, nrow, padding, scale));

    /// <summary>PNG bytes of the grid of a batch <c>[B, C, H, W]</c> in [-1, 1].</summary>
    public static byte[] ToPng(Tensor images, int? nrow = null, int padding = DefaultPadding, int? scale = null) =>
        SkiaImages.EncodePng(Compose(images, nrow, padding, scale));

    /// <summary>Writes the grid of a batch <c>[B, C, H, W]</c> in [-1, 1] as PNG to <paramref name="path"/>, atomically.</summary>
    public static void SavePng(Tensor images, string path, int? nrow = null, int padding = DefaultPadding, int? scale = null) =>
        SkiaImages.WriteAtomically(path, ToPng(images, nrow, padding, scale));
}
