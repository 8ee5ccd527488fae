using Xunit;
using System.IO.Compression;
using DiffusionSharp.Data;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Data;

public sealed class BundledMnistTests
{
    [Fact]
    public void Should_load_ten_thousand_labelled_28x28_digits_matching_the_shared_files()
    {
        // Given the bundled MNIST, found without ../shared
        var dataset = IdxDataset.Mnist();

        // Then its shape and labels are MNIST's
        Assert.Equal((10_000, 1, 28, 28), (dataset.Count, dataset.Channels, dataset.Height, dataset.Width));
        Assert.Equal(10, dataset.NumClasses);
        Assert.Equal(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], dataset.ClassNames);

        // And the first label and a pixel checksum equal the shared reference files, read here without the IdxReader
        var sharedImages = Gunzip(Path.Combine(TestPaths.Shared, "data", "mnist", BundledData.MnistImagesFileName));
        var sharedLabels = Gunzip(Path.Combine(TestPaths.Shared, "data", "mnist", BundledData.MnistLabelsFileName));
        Assert.Equal(sharedLabels[8], dataset.GetLabel(0));
        Assert.Equal(sharedLabels[8 + 9_999], dataset.GetLabel(9_999));
        long expected = 0, actual = 0;
        for (var i = 16; i < sharedImages.Length; i++) expected += sharedImages[i] * (long)(i % 9973);
        for (var n = 0; n < dataset.Count; n++)
        {
            var image = dataset.GetImageBytes(n);
            for (var p = 0; p < image.Length; p++) actual += image[p] * (long)((16 + n * 784 + p) % 9973);
        }
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Should_find_the_bundled_folder_beside_or_above_the_application()
    {
        var found = BundledData.FindMnistDirectory(AppContext.BaseDirectory);

        Assert.NotNull(found);
        Assert.True(File.Exists(BundledData.MnistImagesPath));
        Assert.True(File.Exists(BundledData.MnistLabelsPath));
        var empty = TestPaths.NewTempDir();
        Assert.Null(BundledData.FindMnistDirectory(empty));
        Directory.Delete(empty);
    }

    private static byte[] Gunzip(string path)
    {
        using var zip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        zip.CopyTo(memory);
        return memory.ToArray();
    }
}
