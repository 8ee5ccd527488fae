using DiffusionSharp.Imaging;
using DiffusionSharp.Tests.Support;
using SkiaSharp;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Imaging;

public sealed class ImageFileTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Should_round_trip_a_tensor_through_a_png_file_exactly(int channels)
    {
        // Given a tensor whose values are exactly representable pixels
        var pixels = Enumerable.Range(0, channels * 5 * 7).Select(i => (byte)(i * 37 % 256)).ToArray();
        using var tensor = new PixelImage(channels, 5, 7, pixels).ToTensor();
        var path = Path.Combine(_dir, "sub", "image.png");

        // When saved and loaded back in the same mode
        ImageFile.SavePng(tensor, path);
        var loaded = ImageFile.LoadPixels(path, grayscale: channels == 1);

        // Then every byte is identical and no temporary file is left
        Assert.Equal((channels, 5, 7), (loaded.Channels, loaded.Height, loaded.Width));
        Assert.Equal(pixels, loaded.Pixels);
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "sub")));
        using var back = ImageFile.LoadTensor(path, grayscale: channels == 1);
        Assert.Equal(0f, (back - tensor).abs().max().item<float>(), 6);
    }

    [Fact]
    public void Should_decode_image_bytes_as_a_file_is_read_and_refuse_more_pixels_than_allowed()
    {
        // Given the PNG bytes of a 5 x 7 RGB image
        var pixels = Enumerable.Range(0, 3 * 5 * 7).Select(i => (byte)(i * 11 % 256)).ToArray();
        byte[] png = ImageFile.ToPng(new PixelImage(3, 5, 7, pixels));

        // When decoded from memory, with room for it and then with a limit below its 35 pixels
        var decoded = ImageFile.DecodePixels(png, "upload");
        var e = Assert.Throws<InvalidInputException>(() => ImageFile.DecodePixels(png, "upload", maxPixels: 34));

        // Then the pixels are the file's, and the too-large image is refused naming the source and its size
        Assert.Equal(pixels, decoded.Pixels);
        Assert.StartsWith("upload: ", e.Message);
        Assert.Contains("7x5", e.Message);
        Assert.Contains("upload: ", Assert.Throws<InvalidInputException>(() => ImageFile.DecodePixels([1, 2, 3], "upload")).Message);
    }

    [Fact]
    public void Should_clamp_values_outside_minus_one_to_one()
    {
        using var tensor = torch.tensor(new float[] { -3f, -1f, 0f, 1f, 4f, float.NaN }, [1, 1, 6]);

        var image = PixelImage.FromTensor(tensor);

        Assert.Equal(new byte[] { 0, 0, 128, 255, 255, 0 }, image.Pixels);
    }

    [Fact]
    public void Should_load_a_jpeg_resized_and_cropped()
    {
        var path = Path.Combine(_dir, "photo.jpg");
        using (var bitmap = new SKBitmap(64, 32))
        {
            bitmap.Erase(new SKColor(30, 120, 220));
            using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
            File.WriteAllBytes(path, data.ToArray());
        }

        using var tensor = ImageFile.LoadTensor(path, size: 16);

        Assert.Equal(new long[] { 3, 16, 16 }, tensor.shape);
        Assert.Equal(220 / 127.5 - 1, tensor[2, 8, 8].item<float>(), 1);
    }

    [Fact]
    public void Should_name_the_file_given_something_that_is_not_an_image()
    {
        var path = Path.Combine(_dir, "fake.png");
        File.WriteAllText(path, "this is text");

        Assert.Contains(path, Assert.Throws<InvalidInputException>(() => ImageFile.LoadTensor(path)).Message);
        var missing = Path.Combine(_dir, "missing.png");
        Assert.Contains(missing, Assert.Throws<InvalidInputException>(() => ImageFile.LoadPixels(missing)).Message);
    }

    [Fact]
    public void Should_encode_a_batch_as_a_grid()
    {
        using var batch = torch.zeros(4, 1, 28, 28);

        var png = ImageFile.ToPng(batch);

        using var decoded = SKBitmap.Decode(png);
        var expected = 2 * (28 * 3 + 2) + 2; // 2x2 images at the automatic scale 3, padding 2
        Assert.Equal((expected, expected), (decoded.Width, decoded.Height));
    }
}
