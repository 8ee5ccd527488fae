using SkiaSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Imaging;

/// <summary>
/// A table of images with a text label over each column and, optionally, one left of each row: the picture of the
/// forward process (columns <c>t=0 … t=T</c>, one row per sample) or of sampling (columns = steps; rows x_t and the
/// predicted x0). Images are enlarged by an integer factor without blur. Build it with <see cref="AddRow(Tensor, string?)"/>,
/// then <see cref="Render"/>, <see cref="ToPng"/> or <see cref="SavePng"/>.
/// </summary>
public sealed class Filmstrip
{
    private readonly List<(string? Label, PixelImage[] Images)> _rows = [];

    /// <summary>Creates an empty filmstrip with one column per label.</summary>
    /// <param name="columnLabels">Text over each column, e.g. "t=0", "t=250"; empty strings are allowed.</param>
    public Filmstrip(IReadOnlyList<string> columnLabels)
    {
        ArgumentNullException.ThrowIfNull(columnLabels);
        if (columnLabels.Count == 0) throw new ArgumentException("expected at least one column", nameof(columnLabels));
        ColumnLabels = columnLabels.ToArray();
    }

    /// <summary>True when a font was found so labels are drawn; on Linux a font must be in /usr/share/fonts (Debian: <c>fonts-dejavu-core</c>).</summary>
    public static bool CanDrawText => LabelFont.Typeface is not null;

    /// <summary>The column labels.</summary>
    public IReadOnlyList<string> ColumnLabels { get; }

    /// <summary>Optional line of text over the whole picture.</summary>
    public string? Title { get; init; }

    /// <summary>Integer enlargement of every image; default <see cref="ImageGrid.AutoScale"/> of the image size.</summary>
    public int? Scale { get; init; }

    /// <summary>Gap between images and around the table, in output pixels.</summary>
    public int Padding { get; init; } = 4;

    /// <summary>Label font size in pixels.</summary>
    public float FontSize { get; init; } = 13;

    /// <summary>Height of the column-label band, in pixels: <c>ceil(1.6 * FontSize)</c>.</summary>
    public int LabelBandHeight => (int)Math.Ceiling(1.6 * FontSize);

    /// <summary>Adds a row: one image per column, as a batch <c>[N, C, H, W]</c> in [-1, 1] with N = number of columns.</summary>
    public Filmstrip AddRow(Tensor images, string? label = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        return AddRow(PixelImage.FromBatch(images), label);
    }

    /// <summary>Adds a row of 8-bit images, one per column.</summary>
    public Filmstrip AddRow(IReadOnlyList<PixelImage> images, string? label = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count != ColumnLabels.Count)
            throw new ArgumentException($"expected {ColumnLabels.Count} images (one per column), found {images.Count}", nameof(images));
        var reference = _rows.Count > 0 ? _rows[0].Images[0] : images[0];
        if (images.Any(i => i.Height != reference.Height || i.Width != reference.Width))
            throw new ArgumentException($"expected every image {reference.Height}x{reference.Width}", nameof(images));
        _rows.Add((label, images.ToArray()));
        return this;
    }

    /// <summary>Draws the table as an RGB image on white.</summary>
    /// <exception cref="InvalidOperationException">No row was added.</exception>
    public PixelImage Render()
    {
        if (_rows.Count == 0) throw new InvalidOperationException("add at least one row before rendering");
        var first = _rows[0].Images[0];
        var k = Scale ?? ImageGrid.AutoScale(Math.Min(first.Height, first.Width));
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1, nameof(Scale));
        var (cellW, cellH) = (first.Width * k, first.Height * k);
        var pad = Padding;

        var typeface = LabelFont.Typeface;
        using var font = typeface is null ? null : new SKFont(typeface, FontSize) { Subpixel = true, Edging = SKFontEdging.Antialias };
        var rowLabelWidth = 0;
        if (font is not null && _rows.Any(r => !string.IsNullOrEmpty(r.Label)))
            rowLabelWidth = (int)Math.Ceiling(_rows.Max(r => font.MeasureText(r.Label ?? ""))) + pad + 4;
        var titleHeight = string.IsNullOrEmpty(Title) ? 0 : (int)Math.Ceiling(1.8 * FontSize);
        var band = LabelBandHeight;

        var width = rowLabelWidth + ColumnLabels.Count * (cellW + pad) + pad;
        var height = titleHeight + band + _rows.Count * (cellH + pad) + pad;
        if (font is not null && titleHeight > 0) width = Math.Max(width, (int)Math.Ceiling(font.MeasureText(Title!)) + 2 * pad);

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            using var ink = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = true };
            var left = rowLabelWidth + pad;
            var top = titleHeight + band;

            if (font is not null)
            {
                if (titleHeight > 0) canvas.DrawText(Title!, pad, titleHeight - 0.55f * FontSize, SKTextAlign.Left, font, ink);
                for (var c = 0; c < ColumnLabels.Count; c++)
                    canvas.DrawText(ColumnLabels[c], left + c * (cellW + pad) + cellW / 2f, top - 0.45f * FontSize, SKTextAlign.Center, font, ink);
                for (var r = 0; r < _rows.Count; r++)
                {
                    if (string.IsNullOrEmpty(_rows[r].Label)) continue;
                    var baseline = top + r * (cellH + pad) + cellH / 2f + 0.35f * FontSize;
                    canvas.DrawText(_rows[r].Label!, rowLabelWidth, baseline, SKTextAlign.Right, font, ink);
                }
            }

            var nearest = new SKSamplingOptions(SKFilterMode.Nearest);
            for (var r = 0; r < _rows.Count; r++)
            {
                for (var c = 0; c < ColumnLabels.Count; c++)
                {
                    using var cell = SkiaImages.ToBitmap(_rows[r].Images[c]);
                    using var image = SKImage.FromBitmap(cell);
                    var dst = SKRect.Create(left + c * (cellW + pad), top + r * (cellH + pad), cellW, cellH);
                    canvas.DrawImage(image, dst, nearest);
                }
            }
        }
        return SkiaImages.FromRgba(bitmap, grayscale: false);
    }

    /// <summary>PNG bytes of <see cref="Render"/>.</summary>
    public byte[] ToPng() => SkiaImages.EncodePng(Render());

    /// <summary>Writes <see cref="ToPng"/> to <paramref name="path"/> atomically, creating its folder.</summary>
    public void SavePng(string path) => SkiaImages.WriteAtomically(path, ToPng());
}
