namespace DiffusionSharp.Data;

/// <summary>
/// The contents of one IDX file with element type uint8: its dimensions (outermost first, e.g. <c>[N, H, W]</c>
/// for images, <c>[N]</c> for labels) and the payload in row-major order, held once.
/// </summary>
public sealed class IdxArray
{
    internal IdxArray(string path, int magic, int[] dimensions, byte[] data)
    {
        Path = path;
        Magic = magic;
        Dimensions = dimensions;
        Data = data;
    }

    /// <summary>The file it was read from.</summary>
    public string Path { get; }

    /// <summary>The 32-bit big-endian magic number, e.g. 2051 for MNIST images, 2049 for labels.</summary>
    public int Magic { get; }

    /// <summary>Dimensions, outermost first; every one ≥ 1.</summary>
    public IReadOnlyList<int> Dimensions { get; }

    /// <summary>Row-major payload, one byte per element; its length is the product of <see cref="Dimensions"/>.</summary>
    public byte[] Data { get; }

    /// <summary>Number of items: the first dimension.</summary>
    public int Count => Dimensions[0];
}
