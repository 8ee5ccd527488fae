using Xunit;
using DiffusionSharp.Data;
using DiffusionSharp.Tests.Support;
using SkiaSharp;

namespace DiffusionSharp.Tests.Data;

public sealed class ImageFolderDatasetTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a solid-colour PNG (or JPEG) with SkiaSharp.</summary>
    internal static void WriteImage(string path, int width, int height, SKColor color, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(color);
        using var data = bitmap.Encode(format, 95);
        File.WriteAllBytes(path, data.ToArray());
    }

    private void MakeClassFolders()
    {
        WriteImage(Path.Combine(_dir, "dogs", "b.png"), 40, 20, new SKColor(200, 10, 10));
        WriteImage(Path.Combine(_dir, "dogs", "nested", "c.jpg"), 16, 16, new SKColor(10, 200, 10), SKEncodedImageFormat.Jpeg);
        WriteImage(Path.Combine(_dir, "cats", "a.png"), 20, 30, new SKColor(0, 0, 255));
        File.WriteAllText(Path.Combine(_dir, "cats", "notes.txt"), "not an image");
        File.WriteAllText(Path.Combine(_dir, "cats", "broken.png"), "not a png either");
    }

    [Fact]
    public void Should_label_by_first_level_subfolder_and_skip_unreadable_images()
    {
        // Given two class folders, a text file and a corrupt PNG
        MakeClassFolders();

        // When opened as 8x8 RGB
        var dataset = ImageFolderDataset.Open(_dir, size: 8);

        // Then classes are sorted ordinally and images follow them in path order
        Assert.Equal(["cats", "dogs"], dataset.ClassNames);
        Assert.Equal((3, 3, 8, 8), (dataset.Count, dataset.Channels, dataset.Height, dataset.Width));
        Assert.Equal(new[] { 0, 1, 1 }, Enumerable.Range(0, 3).Select(dataset.GetLabel));
        Assert.Equal(["a.png", "b.png", "c.jpg"], dataset.Files.Select(Path.GetFileName));
        Assert.Equal("broken.png", Path.GetFileName(Assert.Single(dataset.SkippedFiles)));
        Assert.Equal(1, dataset.IgnoredFileCount);

        // And pixels keep their colour after resize and crop
        var images = new float[3 * 3 * 64];
        var labels = new long[3];
        dataset.FillBatch([0, 1], images, labels);
        Assert.Equal(new long[] { 0, 1, 0 }, labels);
        Assert.Equal(-1f, images[0 * 64 + 27], 2);      // blue image, red channel
        Assert.Equal(1f, images[2 * 64 + 27], 2);       // blue image, blue channel
        Assert.Equal(200 / 127.5f - 1, images[192 + 27], 2); // red image, red channel
    }

    [Fact]
    public void Should_name_the_unreadable_file_given_strict()
    {
        MakeClassFolders();

        var error = Assert.Throws<InvalidInputException>(() => ImageFolderDataset.Open(_dir, size: 8, strict: true));

        Assert.Contains("broken.png", error.Message);
    }

    [Fact]
    public void Should_convert_to_luma_given_grayscale()
    {
        WriteImage(Path.Combine(_dir, "x.png"), 10, 6, new SKColor(255, 0, 0));

        var dataset = ImageFolderDataset.Open(_dir, size: 4, grayscale: true);

        Assert.Equal((1, 1, 4, 4, 0), (dataset.Count, dataset.Channels, dataset.Height, dataset.Width, dataset.NumClasses));
        Assert.Equal(76, dataset.GetPixels(0).Pixels[5]); // BT.601: 0.299 * 255
    }

    [Fact]
    public void Should_resize_the_shorter_side_and_centre_crop()
    {
        // Given a 30x10 image: left third black, middle white, right third black
        using (var bitmap = new SKBitmap(30, 10))
        {
            bitmap.Erase(SKColors.Black);
            for (var y = 0; y < 10; y++) for (var x = 10; x < 20; x++) bitmap.SetPixel(x, y, SKColors.White);
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(_dir, "wide.png"), data.ToArray());
        }

        // When resized to 10: the shorter side is already 10, so only the centre 10x10 (all white) remains
        var image = ImageFolderDataset.Open(_dir, size: 10, grayscale: true).GetPixels(0);

        Assert.Equal((10, 10), (image.Height, image.Width));
        Assert.All(image.Pixels, p => Assert.True(p > 245, $"expected white, found {p}"));
    }

    [Fact]
    public void Should_fail_given_an_empty_or_missing_folder()
    {
        File.WriteAllText(Path.Combine(_dir, "readme.md"), "no images");

        Assert.Contains(_dir, Assert.Throws<InvalidInputException>(() => ImageFolderDataset.Open(_dir, 8)).Message);
        var missing = Path.Combine(_dir, "missing");
        Assert.Contains(missing, Assert.Throws<InvalidInputException>(() => ImageFolderDataset.Open(missing, 8)).Message);
    }

    [Fact]
    public void Should_fail_given_images_beside_class_folders()
    {
        MakeClassFolders();
        WriteImage(Path.Combine(_dir, "stray.png"), 4, 4, SKColors.Gray);

        Assert.Contains("stray.png", Assert.Throws<InvalidInputException>(() => ImageFolderDataset.Open(_dir, 8)).Message);
    }
}
