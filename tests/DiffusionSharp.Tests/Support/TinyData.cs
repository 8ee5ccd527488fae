using System.Buffers.Binary;
using DiffusionSharp.Data;
using DiffusionSharp.Models;

namespace DiffusionSharp.Tests.Support;

/// <summary>Small real data and tiny models for fast training tests.</summary>
public static class TinyData
{
    /// <summary>The first <paramref name="count"/> bundled MNIST digits written as IDX image and label files in <paramref name="dir"/>.</summary>
    public static (string Images, string Labels) WriteMnistSubset(string dir, int count)
    {
        var images = IdxReader.ReadImages(BundledData.MnistImagesPath);
        var labels = IdxReader.ReadLabels(BundledData.MnistLabelsPath);
        int pixels = images.Dimensions[1] * images.Dimensions[2];
        string imagesPath = Path.Combine(dir, "images-idx3-ubyte");
        string labelsPath = Path.Combine(dir, "labels-idx1-ubyte");
        File.WriteAllBytes(imagesPath, [.. Header(0x0803, count, images.Dimensions[1], images.Dimensions[2]), .. images.Data.AsSpan(0, count * pixels)]);
        File.WriteAllBytes(labelsPath, [.. Header(0x0801, count), .. labels.Data.AsSpan(0, count)]);
        return (imagesPath, labelsPath);
    }

    /// <summary>A 28x28 single-channel U-Net of two levels, 8 and 16 channels: about 20k parameters.</summary>
    public static UNet2DConfig TinyUNet(int? numClassEmbeds = null) => new()
    {
        SampleSize = 28,
        InChannels = 1,
        OutChannels = 1,
        LayersPerBlock = 1,
        BlockOutChannels = [8, 16],
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.DownBlock2D],
        UpBlockTypes = [UpBlockType.UpBlock2D, UpBlockType.UpBlock2D],
        NormNumGroups = 4,
        NumClassEmbeds = numClassEmbeds,
    };

    private static byte[] Header(int magic, params int[] dims)
    {
        var header = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        return header;
    }
}
