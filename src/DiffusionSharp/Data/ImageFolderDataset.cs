using DiffusionSharp.Imaging;

namespace DiffusionSharp.Data;

/// <summary>
/// Images from a folder tree (PNG and JPEG; also WebP, BMP, GIF), searched recursively in ordinal path order.
/// When the top folder has subfolders holding images, each image's class is its first-level subfolder (class names
/// sorted ordinally, like torchvision's <c>ImageFolder</c>; a single subfolder gives one class); otherwise the
/// dataset is unlabelled. Hidden files and folders (name starting with '.') are not read.
/// <para>
/// A folder with a <c>metadata.jsonl</c> follows the Hugging Face <c>imagefolder</c> convention instead (see
/// <see cref="ImageFolderMetadata"/>): the images are the rows' <c>file_name</c>s in file order, each one's caption is its
/// <c>text</c> (<see cref="GetCaption"/>), and a label column, when one is named, gives the classes: its distinct values
/// sorted ordinally are the class names, label i the i-th of them. Without a label column such a folder is unlabelled.
/// </para>
/// <para>
/// Design: every image is decoded once, when the dataset is opened, resized (shorter side to <c>size</c>, centre
/// crop to size x size) and kept as its <c>[C, size, size]</c> bytes in one array: 12 KB per 64 x 64 RGB image, never
/// a full-size decoded copy. Batches then only convert bytes to floats, so training does not decode images on threads
/// that compete with libtorch, and a file that cannot be read is found before training, not in the middle of it.
/// Opening decodes in parallel over the machine's cores.
/// </para>
/// </summary>
public sealed class ImageFolderDataset : IImageDataset
{
    /// <summary>File extensions (lowercase) considered images; other files are ignored and counted in <see cref="IgnoredFileCount"/>.</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif" };

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the label column.</summary>
    public const string LabelColumnProperty = "DataSpec.LabelColumn";

    private readonly byte[] _pixels;
    private readonly int[] _labels;
    private readonly string?[]? _captions;

    private ImageFolderDataset(string root, int channels, int size, byte[] pixels, string[] files, int[] labels,
        string[] classNames, string?[]? captions, string? labelColumn, IReadOnlyList<string> skipped, int ignored)
    {
        _captions = captions;
        LabelColumn = labelColumn;
        Root = root;
        Channels = channels;
        Height = size;
        Width = size;
        _pixels = pixels;
        Files = files;
        _labels = labels;
        ClassNames = classNames;
        SkippedFiles = skipped;
        IgnoredFileCount = ignored;
    }

    /// <summary>Opens <paramref name="root"/> and decodes every image.</summary>
    /// <param name="root">The top folder.</param>
    /// <param name="size">Output height and width: shorter side resized to it, centre cropped; ≥ 1.</param>
    /// <param name="grayscale">1 channel (BT.601 luma) instead of 3 (RGB).</param>
    /// <param name="strict">Fail on the first unreadable image instead of skipping it (see <see cref="SkippedFiles"/>).</param>
    /// <param name="labelColumn">The <c>metadata.jsonl</c> column whose values are the classes; null = unlabelled (or class subfolders without metadata).</param>
    /// <param name="background">The colour transparent pixels are composited onto; null = white.</param>
    /// <exception cref="InvalidInputException">
    /// The folder is missing or holds no readable image; an image lies beside class subfolders; a bad
    /// <c>metadata.jsonl</c> (see <see cref="ImageFolderMetadata.Read"/>); a label column without metadata, or one that
    /// the metadata lacks; with <paramref name="strict"/>, an image cannot be read; the decoded bytes would exceed one array.
    /// </exception>
    public static ImageFolderDataset Open(string root, int size, bool grayscale = false, bool strict = false,
        string? labelColumn = null, RgbColor? background = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (size < 1) throw new InvalidInputException($"image size: expected ≥ 1, found {size}");
        var full = Path.GetFullPath(root);
        if (!Directory.Exists(full)) throw new InvalidInputException($"{root}: image folder not found");
        var backdrop = background ?? RgbColor.White;

        var metadataPath = Path.Combine(full, ImageFolderMetadata.FileName);
        if (labelColumn is not null && !File.Exists(metadataPath))
            throw new InvalidInputException(
                $"LabelColumn '{labelColumn}': {root} has no {ImageFolderMetadata.FileName} to read it from", LabelColumnProperty);
        var (files, labels, classNames, captions, ignored) = File.Exists(metadataPath)
            ? FromMetadata(ImageFolderMetadata.Read(metadataPath), labelColumn)
            : Scan(full);
        if (files.Count == 0)
            throw new InvalidInputException(
                $"{root}: expected image files ({string.Join(", ", ImageExtensions)}), found none ({ignored} other files)");

        var channels = grayscale ? 1 : 3;
        var imageSize = channels * size * size;
        if ((long)imageSize * files.Count > Array.MaxLength)
            throw new InvalidInputException(
                $"{root}: {files.Count} images of {channels}x{size}x{size} bytes exceed one array ({Array.MaxLength} bytes); use a smaller size");

        var pixels = new byte[(long)imageSize * files.Count];
        var errors = new string?[files.Count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount };
        Parallel.For(0, files.Count, parallel, (i, state) =>
        {
            var image = SkiaImages.TryDecode(files[i], grayscale, size, backdrop, out var error);
            if (image is null)
            {
                errors[i] = error ?? "unreadable";
                // Break, not Stop: every lower index still runs, so strict mode reports the first bad file in path order.
                if (strict) state.Break();
                return;
            }
            image.Pixels.CopyTo(pixels, (long)i * imageSize);
        });

        // Keep the readable images in path order by moving each one down over the gaps left by the skipped ones.
        var skipped = new List<string>();
        var kept = 0;
        for (var i = 0; i < files.Count; i++)
        {
            if (errors[i] is string error)
            {
                if (strict) throw new InvalidInputException($"{files[i]}: expected a PNG or JPEG image, found {error}");
                skipped.Add(files[i]);
                continue;
            }
            if (kept != i)
            {
                Array.Copy(pixels, (long)i * imageSize, pixels, (long)kept * imageSize, imageSize);
                files[kept] = files[i];
                labels[kept] = labels[i];
                if (captions is not null) captions[kept] = captions[i];
            }
            kept++;
        }
        if (kept == 0)
            throw new InvalidInputException($"{root}: expected at least one readable image, found {files.Count} unreadable ones, e.g. {skipped[0]}");
        if (kept < files.Count) Array.Resize(ref pixels, kept * imageSize);

        return new ImageFolderDataset(full, channels, size, pixels, files.Take(kept).ToArray(), labels.Take(kept).ToArray(),
            classNames, captions?.Take(kept).ToArray(), labelColumn, skipped, ignored);
    }

    /// <summary>The top folder (full path).</summary>
    public string Root { get; }

    /// <summary>The image files in dataset order (full paths); index i is image i.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The <c>metadata.jsonl</c> column the labels come from, or null (class subfolders, or unlabelled).</summary>
    public string? LabelColumn { get; }

    /// <summary>Whether the images have captions: the folder has a <c>metadata.jsonl</c>.</summary>
    public bool HasCaptions => _captions is not null;

    /// <summary>
    /// The caption (<c>metadata.jsonl</c>'s <c>text</c>) of image <paramref name="index"/>; null when that row has none.
    /// Text-conditioned training reads its prompts with <see cref="ReadColumn"/> (any column, <c>text</c> included).
    /// </summary>
    /// <exception cref="InvalidOperationException">The folder has no <c>metadata.jsonl</c>.</exception>
    public string? GetCaption(int index)
    {
        if (_captions is null) throw new InvalidOperationException($"{Root} has no {ImageFolderMetadata.FileName}, so no captions");
        return _captions[index];
    }

    /// <summary>
    /// The values of a <c>metadata.jsonl</c> column for every image, in dataset order (skipped files left out), e.g. the
    /// prompts of text-conditioned training (<c>text</c>, or any other column).
    /// </summary>
    /// <param name="column">The column name.</param>
    /// <param name="property">The <c>Type.Member</c> the column was given for (errors start with its member name).</param>
    /// <exception cref="InvalidInputException">The folder has no <c>metadata.jsonl</c>, no such column (the message lists those
    /// there are), or a row without a value for it (named <c>file:line</c>).</exception>
    public IReadOnlyList<string> ReadColumn(string column, string property)
    {
        ArgumentNullException.ThrowIfNull(column);
        var path = Path.Combine(Root, ImageFolderMetadata.FileName);
        if (!File.Exists(path))
            throw new InvalidInputException($"{InvalidInputException.MemberOf(property)} '{column}': {Root} has no {ImageFolderMetadata.FileName} to read it from", property);
        var metadata = ImageFolderMetadata.Read(path);
        var values = metadata.RequiredColumn(column, property);
        var byFile = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < metadata.Count; i++) byFile[metadata.Files[i]] = values[i];
        return Files.Select(f => byFile.TryGetValue(f, out var v) ? v
            : throw new InvalidInputException($"{path}: lists no row for {f} (the folder changed while it was read)")).ToArray();
    }

    /// <summary>Image files that could not be decoded and were left out (never with strict).</summary>
    public IReadOnlyList<string> SkippedFiles { get; }

    /// <summary>Files without an image extension (hidden files excluded) that were not considered.</summary>
    public int IgnoredFileCount { get; }

    /// <inheritdoc />
    public int Count => Files.Count;

    /// <inheritdoc />
    public int Channels { get; }

    /// <inheritdoc />
    public int Height { get; }

    /// <inheritdoc />
    public int Width { get; }

    /// <inheritdoc />
    public int NumClasses => ClassNames.Count;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The class label of image <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">The dataset has no labels.</exception>
    public int GetLabel(int index)
    {
        if (NumClasses == 0) throw new InvalidOperationException($"{Root} has no class subfolders or label column, so no labels");
        return _labels[index];
    }

    /// <summary>The stored <c>[C, H, W]</c> bytes of image <paramref name="index"/>.</summary>
    public PixelImage GetPixels(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var size = Channels * Height * Width;
        return new PixelImage(Channels, Height, Width, _pixels.AsSpan(index * size, size).ToArray());
    }

    /// <inheritdoc />
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels)
    {
        DatasetChecks.CheckBatch(this, indices, images, labels);
        var size = Channels * Height * Width;
        for (var b = 0; b < indices.Length; b++)
        {
            PixelValues.ToSigned(_pixels.AsSpan(indices[b] * size, size), images.Slice(b * size, size));
            if (NumClasses > 0) labels[b] = _labels[indices[b]];
        }
    }

    private static (List<string> Files, int[] Labels, string[] ClassNames, string?[]? Captions, int Ignored) FromMetadata(
        ImageFolderMetadata metadata, string? labelColumn)
    {
        var files = metadata.Files.ToList();
        var captions = metadata.Column(ImageFolderMetadata.TextColumn)?.ToArray() ?? new string?[files.Count];
        if (labelColumn is null) return (files, new int[files.Count], [], captions, 0);
        var values = metadata.RequiredColumn(labelColumn, LabelColumnProperty);
        // Sorted, so the same metadata gives the same class indices whatever the row order.
        var classNames = values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var index = classNames.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
        return (files, values.Select(v => index[v]).ToArray(), classNames, captions, 0);
    }

    private static (List<string> Files, int[] Labels, string[] ClassNames, string?[]? Captions, int Ignored) Scan(string root)
    {
        var ignored = 0;
        var topImages = new List<string>();
        foreach (var file in Directory.EnumerateFiles(root))
        {
            if (IsHidden(file)) continue;
            if (IsImage(file)) topImages.Add(file);
            else ignored++;
        }

        var classes = new List<(string Name, List<string> Files)>();
        foreach (var dir in Directory.EnumerateDirectories(root).Where(d => !IsHidden(d)).Order(StringComparer.Ordinal))
        {
            var images = new List<string>();
            foreach (var file in EnumerateRecursively(dir))
            {
                if (IsImage(file)) images.Add(file);
                else ignored++;
            }
            if (images.Count > 0) classes.Add((Path.GetFileName(dir), images));
        }

        if (classes.Count == 0)
        {
            topImages.Sort(StringComparer.Ordinal);
            return (topImages, new int[topImages.Count], [], null, ignored);
        }
        if (topImages.Count > 0)
            throw new InvalidInputException(
                $"{topImages[0]}: image beside class subfolders; expected every image inside a class subfolder of {root} ({string.Join(", ", classes.Select(c => c.Name))})");

        var files = new List<string>();
        var labels = new List<int>();
        for (var label = 0; label < classes.Count; label++)
        {
            var sorted = classes[label].Files;
            sorted.Sort(StringComparer.Ordinal);
            files.AddRange(sorted);
            labels.AddRange(Enumerable.Repeat(label, sorted.Count));
        }
        return (files, labels.ToArray(), classes.Select(c => c.Name).ToArray(), null, ignored);
    }

    private static IEnumerable<string> EnumerateRecursively(string dir)
    {
        foreach (var file in Directory.EnumerateFiles(dir))
            if (!IsHidden(file)) yield return file;
        foreach (var sub in Directory.EnumerateDirectories(dir))
        {
            if (IsHidden(sub)) continue;
            foreach (var file in EnumerateRecursively(sub)) yield return file;
        }
    }

    private static bool IsHidden(string path) => Path.GetFileName(path).StartsWith('.');

    private static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path));
}
