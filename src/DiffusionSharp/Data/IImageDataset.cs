namespace DiffusionSharp.Data;

/// <summary>A dataset of images <c>[C, H, W]</c> of one size, optionally labelled.</summary>
public interface IImageDataset : IDataset
{
    /// <summary>Channels per image: 1 (grayscale) or 3 (RGB).</summary>
    int Channels { get; }

    /// <summary>Image height in pixels.</summary>
    int Height { get; }

    /// <summary>Image width in pixels.</summary>
    int Width { get; }

    /// <summary>Floats per image: <c>Channels * Height * Width</c>.</summary>
    int ImageSize => Channels * Height * Width;

    IReadOnlyList<int> IDataset.SampleShape => [Channels, Height, Width];

    int IDataset.SampleSize => Channels * Height * Width;
}
