using static TorchSharp.torch;

namespace DiffusionSharp.Imaging;

/// <summary>
/// Image files ↔ tensors in [-1, 1]. Reading accepts PNG and JPEG (also WebP, BMP, GIF), recognised by content;
/// writing produces PNG, 8-bit grayscale for 1 channel and RGB for 3, written atomically (temporary file + rename).
/// </summary>
public static class ImageFile
{
    /// <summary>
    /// PNG bytes of <paramref name="images"/>: a float tensor <c>[C, H, W]</c> or <c>[1, C, H, W]</c>, C = 1 or 3,
    /// values in [-1, 1] (clamped, rounded). A batch <c>[B, C, H, W]</c> with B &gt; 1 becomes an <see cref="ImageGrid"/>
    /// with default settings.
    /// </summary>
    public static byte[] ToPng(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var batch = PixelImage.FromBatch(images);
        return batch.Length == 1 ? SkiaImages.EncodePng(batch[0]) : ImageGrid.ToPng(batch);
    }

    /// <summary>PNG bytes of an 8-bit image.</summary>
    public static byte[] ToPng(PixelImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return SkiaImages.EncodePng(image);
    }

    /// <summary>Writes <see cref="ToPng(Tensor)"/> of <paramref name="images"/> to <paramref name="path"/> atomically, creating its folder.</summary>
    public static void SavePng(Tensor images, string path) => SkiaImages.WriteAtomically(path, ToPng(images));

    /// <summary>Writes <paramref name="image"/> as PNG to <paramref name="path"/> atomically, creating its folder.</summary>
    public static void SavePng(PixelImage image, string path) => SkiaImages.WriteAtomically(path, ToPng(image));

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> through a temporary file and a rename, creating its folder.</summary>
    public static void WriteAtomically(string path, byte[] bytes) => SkiaImages.WriteAtomically(path, bytes);

    /// <summary>
    /// Reads an image file as 8-bit planar pixels. Transparency is composited onto white, or onto <paramref name="background"/>.
    /// </summary>
    /// <param name="path">PNG, JPEG, WebP, BMP or GIF (first frame).</param>
    /// <param name="grayscale">Convert to 1 channel (BT.601 luma); otherwise 3 channels RGB, even for a gray file.</param>
    /// <param name="size">Resize the shorter side to this and centre-crop to size x size; null keeps the file's size.</param>
    /// <param name="background">The colour transparent pixels are composited onto; null = white.</param>
    /// <exception cref="InvalidInputException">The file is missing or not a readable image.</exception>
    public static PixelImage LoadPixels(string path, bool grayscale = false, int? size = null, RgbColor? background = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (size is < 1) throw new InvalidInputException($"image size: expected ≥ 1, found {size}");
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: image file not found");
        return SkiaImages.TryDecode(path, grayscale, size, background ?? RgbColor.White, out var error)
            ?? throw new InvalidInputException($"{path}: expected a PNG or JPEG image, found {error}");
    }

    /// <summary>
    /// Decodes image bytes (an upload, say) as <see cref="LoadPixels"/> reads a file, with the same checks against
    /// hostile headers, and refuses images of more than <paramref name="maxPixels"/> pixels before decoding them.
    /// </summary>
    /// <param name="bytes">The encoded image: PNG, JPEG, WebP, BMP or GIF.</param>
    /// <param name="source">What the bytes are, for the error message (e.g. <c>upload 'digit.png'</c>).</param>
    /// <param name="grayscale">Convert to 1 channel; otherwise 3 channels RGB.</param>
    /// <param name="size">Resize the shorter side to this and centre-crop to size x size; null keeps the image's size.</param>
    /// <param name="maxPixels">The largest width x height accepted.</param>
    /// <exception cref="InvalidInputException">Not a readable image, or too large.</exception>
    public static PixelImage DecodePixels(byte[] bytes, string source, bool grayscale = false, int? size = null, long maxPixels = SkiaImages.MaxPixels)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (size is < 1) throw new InvalidInputException($"image size: expected ≥ 1, found {size}");
        return SkiaImages.TryDecode(bytes, grayscale, size, maxPixels, out var error)
            ?? throw new InvalidInputException($"{source}: expected a PNG or JPEG image, found {error}");
    }

    /// <summary>
    /// Reads an image file as a float32 CPU tensor <c>[C, H, W]</c> in [-1, 1]; C = 1 with <paramref name="grayscale"/>, else 3.
    /// See <see cref="LoadPixels"/> for the options.
    /// </summary>
    /// <exception cref="InvalidInputException">The file is missing or not a readable image.</exception>
    public static Tensor LoadTensor(string path, bool grayscale = false, int? size = null) =>
        LoadPixels(path, grayscale, size).ToTensor();
}
