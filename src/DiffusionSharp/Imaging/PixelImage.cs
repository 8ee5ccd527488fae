using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Imaging;

/// <summary>
/// An 8-bit image in planar layout: <see cref="Pixels"/> holds <c>[C, H, W]</c> bytes, row-major, 0..255, with C = 1
/// (grayscale) or 3 (RGB). The byte-level counterpart of a <c>[C, H, W]</c> tensor in [-1, 1].
/// </summary>
public sealed class PixelImage
{
    /// <summary>Wraps <paramref name="pixels"/> (not copied).</summary>
    /// <exception cref="ArgumentException">Channels not 1 or 3, a size below 1, or a length other than C·H·W.</exception>
    public PixelImage(int channels, int height, int width, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "expected 1 or 3 channels");
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (pixels.LongLength != (long)channels * height * width)
            throw new ArgumentException($"expected {channels}x{height}x{width} = {(long)channels * height * width} bytes, found {pixels.LongLength}", nameof(pixels));
        Channels = channels;
        Height = height;
        Width = width;
        Pixels = pixels;
    }

    /// <summary>1 or 3.</summary>
    public int Channels { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary><c>[C, H, W]</c> bytes, row-major.</summary>
    public byte[] Pixels { get; }

    /// <summary>
    /// Converts a float tensor <c>[C, H, W]</c> (or <c>[1, C, H, W]</c>) with C = 1 or 3 and values in [-1, 1]:
    /// clamped, then rounded to 0..255. Any device or floating dtype; the tensor is not modified.
    /// </summary>
    /// <exception cref="ArgumentException">Another shape.</exception>
    public static PixelImage FromTensor(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var shape = image.shape;
        if (shape.Length == 4 && shape[0] == 1) shape = shape[1..];
        if (shape.Length != 3 || shape[0] is not (1 or 3))
            throw new ArgumentException($"expected an image tensor [C, H, W] with C = 1 or 3, found [{string.Join(", ", image.shape)}]", nameof(image));
        var values = ToFloats(image);
        var pixels = new byte[values.Length];
        PixelValues.ToBytes(values, pixels);
        return new PixelImage((int)shape[0], (int)shape[1], (int)shape[2], pixels);
    }

    /// <summary>
    /// Converts each image of a batch <c>[B, C, H, W]</c> (or one image <c>[C, H, W]</c>) with values in [-1, 1].
    /// </summary>
    /// <exception cref="ArgumentException">Another shape, or C not 1 or 3.</exception>
    public static PixelImage[] FromBatch(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() == 3) return [FromTensor(images)];
        var shape = images.shape;
        if (shape.Length != 4 || shape[1] is not (1 or 3) || shape[0] < 1)
            throw new ArgumentException($"expected images [B, C, H, W] with C = 1 or 3, found [{string.Join(", ", shape)}]", nameof(images));
        var values = ToFloats(images);
        var (c, h, w) = ((int)shape[1], (int)shape[2], (int)shape[3]);
        var size = c * h * w;
        var result = new PixelImage[shape[0]];
        for (var b = 0; b < result.Length; b++)
        {
            var pixels = new byte[size];
            PixelValues.ToBytes(values.AsSpan(b * size, size), pixels);
            result[b] = new PixelImage(c, h, w, pixels);
        }
        return result;
    }

    /// <summary>A new float32 CPU tensor <c>[C, H, W]</c> with values in [-1, 1].</summary>
    public Tensor ToTensor()
    {
        var values = new float[Pixels.Length];
        PixelValues.ToSigned(Pixels, values);
        return torch.tensor(values, [Channels, Height, Width]);
    }

    /// <summary>This image with 3 channels (gray copied to R, G and B); itself when already RGB.</summary>
    public PixelImage ToRgb()
    {
        if (Channels == 3) return this;
        var plane = Height * Width;
        var rgb = new byte[3 * plane];
        for (var c = 0; c < 3; c++) Pixels.CopyTo(rgb, c * plane);
        return new PixelImage(3, Height, Width, rgb);
    }

    /// <summary>This image enlarged <paramref name="scale"/> times by repeating pixels (nearest neighbour, no blur).</summary>
    public PixelImage Upscale(int scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        if (scale == 1) return this;
        var (h, w) = (Height * scale, Width * scale);
        var result = new byte[Channels * h * w];
        for (var c = 0; c < Channels; c++)
        {
            for (var y = 0; y < h; y++)
            {
                var src = Pixels.AsSpan((c * Height + y / scale) * Width, Width);
                var dst = result.AsSpan((c * h + y) * w, w);
                for (var x = 0; x < w; x++) dst[x] = src[x / scale];
            }
        }
        return new PixelImage(Channels, h, w, result);
    }

    private static float[] ToFloats(Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = t.detach().to(ScalarType.Float32, torch.CPU).contiguous();
        return cpu.data<float>().ToArray();
    }
}
