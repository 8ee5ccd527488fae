using System.Globalization;
using System.Text.RegularExpressions;
using DiffusionSharp.Data;
using DiffusionSharp.Imaging;

namespace DiffusionSharp.Studio.Forward;

/// <summary>
/// The images the Forward page can noise, by id: <c>mnist:N</c> (digit N of the bundled MNIST set), <c>model:ID/FILE</c>
/// and <c>run:ID/FILE</c> (the newest sample grid in a model's or a run's <c>samples/</c>), <c>upload:HEX</c> (an upload).
/// An image arrives as floats in [-1, 1], <c>[C, H, W]</c>, so that no tensor is made off the tensor thread.
/// </summary>
internal sealed partial class ImageSources(FolderCatalog models, FolderCatalog runs, UploadStore uploads, int maxSide)
{
    private const string Field = "image";
    private readonly Lazy<IdxDataset> _mnist = new(IdxDataset.Mnist);

    /// <summary>An image: values in [-1, 1] and its shape [C, H, W].</summary>
    public sealed record Source(float[] Values, long[] Shape);

    /// <summary>How many bundled MNIST digits there are.</summary>
    public int MnistCount => _mnist.Value.Count;

    /// <summary>The sample grids offered: the newest <c>samples/step-*.png</c> of every model and run.</summary>
    public IReadOnlyList<(string Id, string Label)> SampleImages()
    {
        var list = new List<(string, string)>();
        foreach (var (prefix, catalog) in new[] { ("model", models), ("run", runs) })
            foreach (var id in catalog.Ids())
                if (NewestGrid(catalog, id) is { } file) list.Add(($"{prefix}:{id}/{file}", $"{id}: {file}"));
        return list;
    }

    /// <summary>The image of <paramref name="id"/>.</summary>
    /// <exception cref="StudioRequestException">Unknown, refused or unreadable.</exception>
    public Source Get(string? id)
    {
        if (string.IsNullOrEmpty(id)) throw StudioRequestException.BadValue(Field, " is required");
        if (id.StartsWith("mnist:", StringComparison.Ordinal))
        {
            var digits = _mnist.Value;
            if (!int.TryParse(id.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= digits.Count)
                throw StudioRequestException.BadValue(Field, $": '{id}' must be mnist:N with N in [0, {digits.Count - 1}]");
            var values = new float[digits.Channels * digits.Height * digits.Width];
            digits.FillBatch([index], values, new long[1]);
            return new Source(values, [digits.Channels, digits.Height, digits.Width]);
        }
        if (id.StartsWith("upload:", StringComparison.Ordinal))
            return FromPixels(uploads.Get(id[7..]) ?? throw new StudioRequestException(404, $"image: no upload '{id}' (uploads are kept in memory until the studio stops)", Field));
        var sample = SampleId().Match(id);
        if (!sample.Success)
            throw StudioRequestException.BadValue(Field, $": '{(id.Length > 60 ? id[..60] + "…" : id)}' is not an image id (mnist:N, model:ID/FILE, run:ID/FILE, upload:ID)");
        var catalog = sample.Groups[1].Value == "model" ? models : runs;
        string path = catalog.File(sample.Groups[2].Value, "samples", sample.Groups[3].Value)
            ?? throw new StudioRequestException(404, $"image: no sample '{id}'", Field);
        var image = ImageFile.LoadPixels(path);
        return FromPixels(Math.Max(image.Height, image.Width) > maxSide ? ImageFile.LoadPixels(path, size: maxSide) : image);
    }

    /// <summary>Decodes an upload with the hardened reader, shrinks it to at most the studio's image side and keeps it.</summary>
    /// <exception cref="InvalidInputException">Not a readable image, or too large.</exception>
    public string AddUpload(byte[] bytes, long maxPixels)
    {
        var image = ImageFile.DecodePixels(bytes, "image", maxPixels: maxPixels);
        if (Math.Max(image.Height, image.Width) > maxSide) image = ImageFile.DecodePixels(bytes, "image", size: maxSide, maxPixels: maxPixels);
        return "upload:" + uploads.Add(image);
    }

    private static Source FromPixels(PixelImage image)
    {
        var values = new float[image.Pixels.Length];
        PixelValues.ToSigned(image.Pixels, values);
        return new Source(values, [image.Channels, image.Height, image.Width]);
    }

    private static string? NewestGrid(FolderCatalog catalog, string id)
    {
        string samples = Path.Combine(catalog.Root, id, "samples");
        if (!Directory.Exists(samples)) return null;
        return Directory.EnumerateFiles(samples, "step-*.png").Select(Path.GetFileName).OfType<string>()
            .Where(f => GridName().IsMatch(f)).Order(StringComparer.Ordinal).LastOrDefault();
    }

    [GeneratedRegex(@"^(model|run):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})/(step-\d{7}\.png)$")]
    private static partial Regex SampleId();

    [GeneratedRegex(@"^step-\d{7}\.png$")]
    internal static partial Regex GridName();
}
