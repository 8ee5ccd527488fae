using System.Globalization;
using System.Runtime.InteropServices;
using DiffusionSharp.Data;
using DiffusionSharp.Imaging;
using static TorchSharp.torch;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Reads generated digits to evaluate, as one float32 tensor <c>[N, 1, 28, 28]</c> in [-1, 1]: a folder of 28 x 28
/// grayscale images, a grid PNG written by <see cref="ImageGrid"/>, or an IDX image file. Every image must be exactly
/// 28 x 28 and gray (R = G = B when stored as RGB): the digits are never resized, since resizing would change the score.
/// </summary>
public static class DigitSamples
{
    private const int Side = DigitClassifier.ImageSize;

    /// <summary>
    /// Reads <paramref name="path"/>: a folder → <see cref="FromFolder"/>; a file with <paramref name="gridColumns"/> →
    /// <see cref="FromGrid"/>; an IDX file (raw or gzip) → <see cref="FromIdx"/>; another image file → a single 28 x 28 digit.
    /// </summary>
    /// <exception cref="InvalidInputException">See the three readers.</exception>
    public static Tensor Load(string path, int? gridColumns = null, int? gridRows = null, int padding = ImageGrid.DefaultPadding,
        int? scale = null, int? count = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path)) return Take(FromFolder(path), count, path);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: samples not found (expected a folder, a grid PNG or an IDX file)");
        if (gridColumns is int columns) return FromGrid(path, columns, gridRows, padding, scale, count);
        if (IsIdx(path)) return Take(FromIdx(path), count, path);
        var image = ImageFile.LoadPixels(path);
        if (image.Height != Side || image.Width != Side)
            throw new InvalidInputException(
                $"{path}: expected a {Side}x{Side} digit, found {image.Width}x{image.Height}; for a grid of digits give its number of columns");
        return Take(ToTensor([GrayPlane(image, path)]), count, path);
    }

    /// <summary>Every image file directly in <paramref name="folder"/> (ordinal name order); each must be a 28 x 28 gray digit.</summary>
    /// <exception cref="InvalidInputException">No image in the folder, an unreadable image, or one of another size or in colour (naming the file).</exception>
    public static Tensor FromFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"{folder}: sample folder not found");
        var files = Directory.EnumerateFiles(folder)
            .Where(f => !Path.GetFileName(f).StartsWith('.') && ImageFolderDataset.ImageExtensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new InvalidInputException($"{folder}: expected image files ({string.Join(", ", ImageFolderDataset.ImageExtensions)}), found none");
        var digits = new List<byte[]>(files.Count);
        foreach (var file in files)
        {
            var image = ImageFile.LoadPixels(file);
            if (image.Height != Side || image.Width != Side)
                throw new InvalidInputException($"{file}: expected a {Side}x{Side} digit, found {image.Width}x{image.Height}");
            digits.Add(GrayPlane(image, file));
        }
        return ToTensor(digits);
    }

    /// <summary>
    /// Splits a grid written by <see cref="ImageGrid"/> (28 x 28 cells enlarged <paramref name="scale"/> times, separated
    /// and framed by <paramref name="padding"/> pixels): width = columns·(28·scale + padding) + padding, and likewise the
    /// height with rows. Cells in reading order; trailing cells of the last row that are pure padding gray (unused) are dropped.
    /// Each cell is reduced back to 28 x 28 by averaging its scale x scale blocks, which undoes the grid's pixel repetition exactly.
    /// </summary>
    /// <param name="path">The grid image.</param>
    /// <param name="columns">Cells per row (ImageGrid's <c>nrow</c>; its default is ⌈√B⌉).</param>
    /// <param name="rows">Rows, or null to derive them from the height.</param>
    /// <param name="padding">Gap in pixels (<see cref="ImageGrid.DefaultPadding"/> by default).</param>
    /// <param name="scale">Enlargement, or null to derive it from the width (28 → 3 with ImageGrid's AutoScale).</param>
    /// <param name="count">Take only the first <paramref name="count"/> cells.</param>
    /// <exception cref="InvalidInputException">The size does not fit the layout (saying what was expected and found), colour pixels, or too few cells.</exception>
    public static Tensor FromGrid(string path, int columns, int? rows = null, int padding = ImageGrid.DefaultPadding, int? scale = null, int? count = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (columns < 1) throw new InvalidInputException($"grid columns: expected ≥ 1, found {columns}");
        if (rows is < 1) throw new InvalidInputException($"grid rows: expected ≥ 1, found {rows}");
        if (padding < 0) throw new InvalidInputException($"grid padding: expected ≥ 0, found {padding}");
        if (scale is < 1) throw new InvalidInputException($"grid scale: expected ≥ 1, found {scale}");
        if (count is < 1) throw new InvalidInputException($"count: expected ≥ 1, found {count}");
        var image = ImageFile.LoadPixels(path);
        var (w, h) = (image.Width, image.Height);

        var cellFromWidth = (w - padding) / columns - padding;
        var k = scale ?? Math.Max(1, cellFromWidth / Side);
        var pitch = Side * k + padding;
        if (columns * pitch + padding != w)
        {
            var expected = scale is null
                ? $"columns·(28·scale + {padding}) + {padding} for an integer scale, e.g. {columns * (Side * 3 + padding) + padding} at scale 3"
                : $"{columns * pitch + padding}";
            throw new InvalidInputException(
                $"{path}: a grid of {columns} columns with padding {padding} must be {expected} pixels wide, found {w}x{h}");
        }
        if ((h - padding) % pitch != 0 || h < pitch + padding)
            throw new InvalidInputException(
                $"{path}: a grid of {Side}x{Side} cells at scale {k} with padding {padding} must be rows·{pitch} + {padding} pixels high, found {w}x{h}");
        var rowCount = (h - padding) / pitch;
        if (rows is int r && r != rowCount)
            throw new InvalidInputException($"{path}: expected {r} rows ({r * pitch + padding} pixels high), found {w}x{h} ({rowCount} rows)");

        var gray = GrayPlane(image, path);
        var cells = new List<byte[]>(rowCount * columns);
        for (var row = 0; row < rowCount; row++)
        {
            for (var col = 0; col < columns; col++)
                cells.Add(ReadCell(gray, w, padding + row * pitch, padding + col * pitch, k));
        }
        if (count is int n)
        {
            if (n > cells.Count) throw new InvalidInputException($"{path}: expected at least {n} cells, found {cells.Count} ({rowCount} x {columns})");
            cells.RemoveRange(n, cells.Count - n);
        }
        else
        {
            // ImageGrid leaves the unused cells of the last row as padding gray; no real digit is uniformly that value.
            var lastRowStart = (rowCount - 1) * columns;
            while (cells.Count > lastRowStart + 1 && cells[^1].All(p => p == ImageGrid.PadValue)) cells.RemoveAt(cells.Count - 1);
        }
        return ToTensor(cells);
    }

    /// <summary>An IDX image file (raw or gzip) of 28 x 28 single-channel images.</summary>
    /// <exception cref="InvalidInputException">A malformed file, or images of another size or channel count.</exception>
    public static Tensor FromIdx(string path)
    {
        var data = IdxDataset.Open(path);
        if (data.Channels != 1 || data.Height != Side || data.Width != Side)
            throw new InvalidInputException(
                $"{path}: expected {Side}x{Side} images with 1 channel, found {data.Width}x{data.Height} with {data.Channels} channels");
        return DigitClassifierTrainer.ReadImages(data, Enumerable.Range(0, data.Count).ToArray());
    }

    /// <summary>
    /// Requested class labels: an IDX label file (raw or gzip), or a text file of integers separated by whitespace or commas.
    /// </summary>
    /// <exception cref="InvalidInputException">A missing or malformed file, or a label outside 0-9 (naming the position).</exception>
    public static int[] LoadLabels(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: labels file not found");
        int[] labels;
        if (IsIdx(path))
        {
            labels = IdxReader.ReadLabels(path).Data.Select(b => (int)b).ToArray();
        }
        else
        {
            var tokens = File.ReadAllText(path).Split([' ', '\t', '\r', '\n', ','], StringSplitOptions.RemoveEmptyEntries);
            labels = new int[tokens.Length];
            for (var i = 0; i < tokens.Length; i++)
            {
                if (!int.TryParse(tokens[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out labels[i]))
                    throw new InvalidInputException($"{path}: label {i + 1}: expected an integer 0-9, found '{tokens[i]}'");
            }
        }
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] is < 0 or > 9) throw new InvalidInputException($"{path}: label {i + 1}: expected 0-9, found {labels[i]}");
        }
        if (labels.Length == 0) throw new InvalidInputException($"{path}: expected labels, found none");
        return labels;
    }

    private static Tensor Take(Tensor samples, int? count, string path)
    {
        if (count is not int n) return samples;
        if (n < 1) throw new InvalidInputException($"count: expected ≥ 1, found {n}");
        if (n > samples.shape[0]) throw new InvalidInputException($"{path}: expected at least {n} images, found {samples.shape[0]}");
        using (samples) return samples.narrow(0, 0, n).clone();
    }

    private static bool IsIdx(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var file = File.OpenRead(path);
        var n = file.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        return n >= 2 && ((head[0] == 0x1F && head[1] == 0x8B) || (n == 4 && head[0] == 0 && head[1] == 0 && head[2] == 0x08));
    }

    /// <summary>The single plane of a gray image, which may be stored as RGB with equal channels.</summary>
    private static byte[] GrayPlane(PixelImage image, string path)
    {
        if (image.Channels == 1) return image.Pixels;
        var plane = image.Height * image.Width;
        var p = image.Pixels;
        for (var i = 0; i < plane; i++)
        {
            if (p[i] != p[plane + i] || p[i] != p[2 * plane + i])
                throw new InvalidInputException(
                    $"{path}: expected a grayscale image (1 channel, or RGB with R = G = B), found colour at pixel ({i % image.Width}, {i / image.Width})");
        }
        return p.AsSpan(0, plane).ToArray();
    }

    private static byte[] ReadCell(byte[] gray, int width, int top, int left, int k)
    {
        var cell = new byte[Side * Side];
        var area = k * k;
        for (var y = 0; y < Side; y++)
        {
            for (var x = 0; x < Side; x++)
            {
                var sum = 0;
                for (var dy = 0; dy < k; dy++)
                {
                    var row = (top + y * k + dy) * width + left + x * k;
                    for (var dx = 0; dx < k; dx++) sum += gray[row + dx];
                }
                cell[y * Side + x] = (byte)((sum + area / 2) / area);
            }
        }
        return cell;
    }

    private static Tensor ToTensor(IReadOnlyList<byte[]> digits)
    {
        var values = new float[digits.Count * Side * Side];
        for (var i = 0; i < digits.Count; i++) PixelValues.ToSigned(digits[i], values.AsSpan(i * Side * Side, Side * Side));
        var t = empty([digits.Count, 1, Side, Side], TorchSharp.torch.ScalarType.Float32);
        MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(t.bytes);
        return t;
    }
}
