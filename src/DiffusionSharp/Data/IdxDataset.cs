using DiffusionSharp.Imaging;

namespace DiffusionSharp.Data;

/// <summary>
/// Images from an IDX file (<c>[N, H, W]</c> grayscale, or <c>[N, H, W, C]</c> with C = 1 or 3) and optional labels
/// from a second IDX file (<c>[N]</c>). The raw bytes are held once; each batch converts only its own images to [-1, 1].
/// </summary>
public sealed class IdxDataset : IImageDataset
{
    private readonly byte[] _pixels;
    private readonly byte[]? _labels;
    private readonly bool _channelsLast;

    private IdxDataset(IdxArray images, IdxArray? labels, IReadOnlyList<string>? classNames)
    {
        ImagesPath = images.Path;
        LabelsPath = labels?.Path;
        var dims = images.Dimensions;
        switch (dims.Count)
        {
            case 3:
                (Count, Height, Width, Channels) = (dims[0], dims[1], dims[2], 1);
                break;
            case 4 when dims[3] is 1 or 3:
                (Count, Height, Width, Channels) = (dims[0], dims[1], dims[2], dims[3]);
                _channelsLast = dims[3] == 3;
                break;
            default:
                throw new InvalidInputException(
                    $"{images.Path}: expected image dimensions [N, H, W] or [N, H, W, C] with C = 1 or 3, found [{string.Join(", ", dims)}]");
        }
        _pixels = images.Data;

        if (labels is null)
        {
            if (classNames is not null)
                throw new ArgumentException("class names given without a labels file", nameof(classNames));
            ClassNames = [];
            return;
        }
        if (labels.Dimensions.Count != 1 || labels.Count != Count)
            throw new InvalidInputException(
                $"{labels.Path}: expected labels [{Count}] to match {images.Path}, found [{string.Join(", ", labels.Dimensions)}]");
        _labels = labels.Data;
        var maxLabel = _labels.Max();
        if (classNames is null)
        {
            NumClasses = maxLabel + 1;
            ClassNames = DatasetChecks.NumberedClassNames(NumClasses);
        }
        else
        {
            if (maxLabel >= classNames.Count)
                throw new InvalidInputException($"{labels.Path}: label {maxLabel} found, but only {classNames.Count} class names were given");
            NumClasses = classNames.Count;
            ClassNames = classNames.ToArray();
        }
    }

    /// <summary>Opens an IDX image file and, optionally, its IDX label file (<c>.gz</c> or raw).</summary>
    /// <param name="imagesPath">IDX uint8 images, <c>[N, H, W]</c> or <c>[N, H, W, C]</c>.</param>
    /// <param name="labelsPath">IDX uint8 labels <c>[N]</c>, or null for an unlabelled dataset.</param>
    /// <param name="classNames">Names indexed by label; default "0", "1", ... up to the largest label.</param>
    /// <exception cref="InvalidInputException">A file is missing or malformed, or the two files disagree.</exception>
    public static IdxDataset Open(string imagesPath, string? labelsPath = null, IReadOnlyList<string>? classNames = null)
    {
        var images = IdxReader.Read(imagesPath);
        if (images.Dimensions.Count is not (3 or 4))
            throw new InvalidInputException(
                $"{imagesPath}: expected an IDX image file with 3 or 4 dimensions (magic 2051 for [N, H, W]), found {images.Dimensions.Count} dimensions");
        var labels = labelsPath is null ? null : IdxReader.ReadLabels(labelsPath);
        return new IdxDataset(images, labels, classNames);
    }

    /// <summary>The bundled 10,000 MNIST digits, 1 x 28 x 28, labels 0-9 (see <see cref="BundledData"/>).</summary>
    /// <exception cref="InvalidInputException">The bundled files cannot be found or read.</exception>
    public static IdxDataset Mnist() => Open(BundledData.MnistImagesPath, BundledData.MnistLabelsPath);

    /// <summary>The image file this dataset was read from.</summary>
    public string ImagesPath { get; }

    /// <summary>The label file, or null.</summary>
    public string? LabelsPath { get; }

    /// <inheritdoc />
    public int Count { get; }

    /// <inheritdoc />
    public int Channels { get; }

    /// <inheritdoc />
    public int Height { get; }

    /// <inheritdoc />
    public int Width { get; }

    /// <inheritdoc />
    public int NumClasses { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The label of image <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">The dataset has no labels.</exception>
    public int GetLabel(int index)
    {
        if (_labels is null) throw new InvalidOperationException("this IDX dataset has no labels");
        return _labels[index];
    }

    /// <summary>The raw bytes of image <paramref name="index"/>, in the file's layout (<c>[H, W]</c> or <c>[H, W, C]</c>).</summary>
    public ReadOnlySpan<byte> GetImageBytes(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var size = Channels * Height * Width;
        return _pixels.AsSpan(index * size, size);
    }

    /// <inheritdoc />
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels)
    {
        DatasetChecks.CheckBatch(this, indices, images, labels);
        var size = Channels * Height * Width;
        var plane = Height * Width;
        for (var b = 0; b < indices.Length; b++)
        {
            var src = _pixels.AsSpan(indices[b] * size, size);
            var dst = images.Slice(b * size, size);
            if (!_channelsLast)
            {
                PixelValues.ToSigned(src, dst);
            }
            else
            {
                for (var p = 0; p < plane; p++)
                    for (var c = 0; c < Channels; c++)
                        dst[c * plane + p] = PixelValues.ToSigned(src[p * Channels + c]);
            }
            if (_labels is not null) labels[b] = _labels[indices[b]];
        }
    }
}
