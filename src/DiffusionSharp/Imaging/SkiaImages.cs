using SkiaSharp;

namespace DiffusionSharp.Imaging;

/// <summary>SkiaSharp decoding, resizing and PNG encoding behind <see cref="ImageFile"/>, the datasets and the pictures.</summary>
internal static class SkiaImages
{
    /// <summary>Images above this many pixels are refused rather than decoded (about 16k x 16k).</summary>
    public const long MaxPixels = 1L << 28;

    /// <summary>
    /// Pixels a file may claim per byte of its size (plus <see cref="SmallImagePixels"/>): deflate expands at most about
    /// 1032:1 and a 1-bit PNG packs 8 pixels a byte, so no real image is denser; a tiny file whose header claims
    /// 16k x 16k is refused before Skia allocates the bitmap.
    /// </summary>
    public const long MaxPixelsPerFileByte = 16_384;

    /// <summary>Pixels any file may claim whatever its size.</summary>
    public const long SmallImagePixels = 1L << 20;

    /// <summary>
    /// Decodes a PNG/JPEG/WebP/BMP/GIF file (format found from its content) to planar bytes. Transparent pixels are
    /// composited onto white (<see cref="TryDecode(string, bool, int?, RgbColor, out string?)"/>: onto a chosen colour). With <paramref name="size"/>, the shorter side is resized to it and the centre cropped
    /// to size x size. Grayscale uses ITU-R BT.601 luma with the integer weights PIL uses, so gray input stays exact.
    /// Returns null with a reason when the file is not a readable image.
    /// </summary>
    public static PixelImage? TryDecode(string path, bool grayscale, int? size, out string? error) =>
        TryDecode(path, grayscale, size, RgbColor.White, out error);

    /// <summary>Decodes a file as <see cref="TryDecode(string, bool, int?, out string?)"/> does, compositing transparent pixels onto <paramref name="background"/>.</summary>
    public static PixelImage? TryDecode(string path, bool grayscale, int? size, RgbColor background, out string? error)
    {
        error = null;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = e.Message;
            return null;
        }
        return TryDecode(bytes, grayscale, size, MaxPixels, background, out error);
    }

    /// <summary>
    /// Decodes image bytes as <see cref="TryDecode(string, bool, int?, out string?)"/> does a file, refusing images above
    /// <paramref name="maxPixels"/> before anything is allocated for them.
    /// </summary>
    public static PixelImage? TryDecode(byte[] bytes, bool grayscale, int? size, long maxPixels, out string? error) =>
        TryDecode(bytes, grayscale, size, maxPixels, RgbColor.White, out error);

    /// <summary>Decodes image bytes as <see cref="TryDecode(byte[], bool, int?, long, out string?)"/> does, compositing onto <paramref name="background"/>.</summary>
    public static PixelImage? TryDecode(byte[] bytes, bool grayscale, int? size, long maxPixels, RgbColor background, out string? error)
    {
        error = null;
        if (bytes.Length == 0)
        {
            error = "empty file";
            return null;
        }
        var codec = SKCodec.Create(new MemoryStream(bytes, writable: false), out var result);
        if (codec is null)
        {
            error = $"not a readable image ({result})";
            return null;
        }

        using (codec)
        {
            var (w, h) = (codec.Info.Width, codec.Info.Height);
            if (w < 1 || h < 1 || (long)w * h > Math.Min(maxPixels, MaxPixels))
            {
                error = $"unsupported image size {w}x{h} (expected 1 to {Math.Min(maxPixels, MaxPixels)} pixels)";
                return null;
            }
            if ((long)w * h > SmallImagePixels + MaxPixelsPerFileByte * bytes.Length)
            {
                error = $"an image header claiming {w}x{h} pixels, more than a {bytes.Length}-byte file can hold";
                return null;
            }
            var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul);
            using var decoded = new SKBitmap(info);
            var status = codec.GetPixels(info, decoded.GetPixels());
            if (status != SKCodecResult.Success)
            {
                error = $"cannot decode image ({status})";
                return null;
            }
            var (outH, outW) = size is int s ? (s, s) : (h, w);
            using var premultiplied = Render(decoded, outW, outH);
            return Composite(premultiplied, background, grayscale);
        }
    }

    /// <summary>
    /// Draws <paramref name="source"/> onto a transparent <paramref name="width"/> x <paramref name="height"/> bitmap,
    /// scaling the centred crop of the target's aspect ratio. Resampling premultiplied pixels keeps the colour of
    /// fully transparent pixels (often black) from bleeding into the edges of what is drawn.
    /// </summary>
    private static SKBitmap Render(SKBitmap source, int width, int height)
    {
        var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(target);
        canvas.Clear(SKColors.Transparent);
        using var image = SKImage.FromBitmap(source);

        // Centre crop of the source with the target's aspect ratio: resizing the shorter side to the target and then
        // centre-cropping (torchvision Resize + CenterCrop) in one draw.
        var scale = Math.Max((double)width / source.Width, (double)height / source.Height);
        var cropW = width / scale;
        var cropH = height / scale;
        var src = SKRect.Create((float)((source.Width - cropW) / 2), (float)((source.Height - cropH) / 2), (float)cropW, (float)cropH);
        var dst = SKRect.Create(0, 0, width, height);
        // Same scale: copy pixels exactly. Enlarging: Catmull-Rom, which keeps sharp edges and passes through the source
        // pixels. Shrinking: bilinear over mipmaps, which averages instead of aliasing.
        var sampling = scale == 1 && src.Left == MathF.Floor(src.Left) && src.Top == MathF.Floor(src.Top)
            ? new SKSamplingOptions(SKFilterMode.Nearest)
            : scale > 1
                ? new SKSamplingOptions(SKCubicResampler.CatmullRom)
                : new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear);
        canvas.DrawImage(image, src, dst, sampling);
        return target;
    }

    /// <summary>
    /// Planar bytes of a premultiplied RGBA bitmap composited onto <paramref name="background"/> ("over": out = c·a + bg·(1 − a),
    /// where c·a is the stored premultiplied value), each channel rounded to the nearest byte:
    /// out = p + round(bg · (255 − a) / 255). Opaque pixels keep their bytes exactly.
    /// </summary>
    private static PixelImage Composite(SKBitmap premultiplied, RgbColor background, bool grayscale)
    {
        var span = premultiplied.GetPixelSpan();
        var stride = premultiplied.RowBytes;
        for (var y = 0; y < premultiplied.Height; y++)
        {
            var row = span.Slice(y * stride, premultiplied.Width * 4);
            for (var x = 0; x < premultiplied.Width; x++)
            {
                int rest = 255 - row[4 * x + 3];
                if (rest == 0) continue;
                row[4 * x] = (byte)Math.Min(255, row[4 * x] + (background.R * rest + 127) / 255);
                row[4 * x + 1] = (byte)Math.Min(255, row[4 * x + 1] + (background.G * rest + 127) / 255);
                row[4 * x + 2] = (byte)Math.Min(255, row[4 * x + 2] + (background.B * rest + 127) / 255);
                row[4 * x + 3] = 255;
            }
        }
        return FromRgba(premultiplied, grayscale);
    }

    /// <summary>Planar bytes of an RGBA bitmap (alpha ignored).</summary>
    public static PixelImage FromRgba(SKBitmap rgba, bool grayscale)
    {
        var (w, h) = (rgba.Width, rgba.Height);
        var plane = w * h;
        var src = rgba.GetPixelSpan();
        var stride = rgba.RowBytes;
        var pixels = new byte[(grayscale ? 1 : 3) * plane];
        for (var y = 0; y < h; y++)
        {
            var row = src.Slice(y * stride, w * 4);
            for (var x = 0; x < w; x++)
            {
                var (r, g, b) = (row[4 * x], row[4 * x + 1], row[4 * x + 2]);
                var i = y * w + x;
                if (grayscale)
                {
                    pixels[i] = (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
                }
                else
                {
                    pixels[i] = r;
                    pixels[plane + i] = g;
                    pixels[2 * plane + i] = b;
                }
            }
        }
        return new PixelImage(grayscale ? 1 : 3, h, w, pixels);
    }

    /// <summary>Encodes as PNG: 8-bit grayscale for one channel, RGB otherwise.</summary>
    public static byte[] EncodePng(PixelImage image)
    {
        using var bitmap = ToBitmap(image);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode a {image.Width}x{image.Height} PNG");
        return data.ToArray();
    }

    /// <summary>An opaque bitmap of <paramref name="image"/>: Gray8 for one channel, RGBA for three.</summary>
    public static SKBitmap ToBitmap(PixelImage image)
    {
        var (w, h) = (image.Width, image.Height);
        var plane = w * h;
        var gray = image.Channels == 1;
        var bitmap = new SKBitmap(new SKImageInfo(w, h, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque));
        var dst = bitmap.GetPixelSpan();
        var stride = bitmap.RowBytes;
        var p = image.Pixels;
        for (var y = 0; y < h; y++)
        {
            var row = dst.Slice(y * stride);
            for (var x = 0; x < w; x++)
            {
                var i = y * w + x;
                if (gray)
                {
                    row[x] = p[i];
                }
                else
                {
                    row[4 * x] = p[i];
                    row[4 * x + 1] = p[plane + i];
                    row[4 * x + 2] = p[2 * plane + i];
                    row[4 * x + 3] = 255;
                }
            }
        }
        return bitmap;
    }

    /// <summary>Writes <paramref name="bytes"/> to a temporary file beside <paramref name="path"/> and renames it over the target.</summary>
    public static void WriteAtomically(string path, byte[] bytes) => IO.AtomicFile.Write(path, s => s.Write(bytes));
}
