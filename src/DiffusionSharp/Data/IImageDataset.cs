namespace DiffusionSharp.Data;

/// <summary>
/// A fixed, indexable set of images of one size, optionally labelled. Implementations keep their pixels as bytes and
/// convert only the requested indices, so the loader can fill one pooled buffer per batch and make one tensor from it.
/// </summary>
public interface IImageDataset
{
    /// <summary>Number of images; indices run from 0 to <c>Count - 1</c>.</summary>
    int Count { get; }

    /// <summary>Channels per image: 1 (grayscale) or 3 (RGB).</summary>
    int Channels { get; }

    /// <summary>Image height in pixels.</summary>
    int Height { get; }

    /// <summary>Image width in pixels.</summary>
    int Width { get; }

    /// <summary>Number of classes, labels run from 0 to <c>NumClasses - 1</c>; 0 when the dataset has no labels.</summary>
    int NumClasses { get; }

    /// <summary>Name of each class, indexed by label (length <see cref="NumClasses"/>); empty when there are no labels.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>True when every image has a class label.</summary>
    bool HasLabels => NumClasses > 0;

    /// <summary>Floats per image: <c>Channels * Height * Width</c>.</summary>
    int ImageSize => Channels * Height * Width;

    /// <summary>
    /// Writes the images at <paramref name="indices"/> into <paramref name="images"/> as consecutive <c>[C, H, W]</c>
    /// blocks (row-major, values in [-1, 1]), and their labels into <paramref name="labels"/> when the dataset has labels.
    /// </summary>
    /// <param name="indices">Dataset indices, each in <c>[0, Count)</c>; repeats allowed.</param>
    /// <param name="images">At least <c>indices.Length * ImageSize</c> floats.</param>
    /// <param name="labels">At least <c>indices.Length</c> values when <see cref="HasLabels"/>; ignored (may be empty) otherwise.</param>
    void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels);
}
