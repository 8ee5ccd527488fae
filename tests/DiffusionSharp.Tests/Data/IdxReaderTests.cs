using Xunit;
using DiffusionSharp.Data;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Pixels(int count) => Enumerable.Range(0, count).Select(i => (byte)(i * 7 % 256)).ToArray();

    [Theory]
    [InlineData(true, "images.idx3-ubyte.gz")]
    [InlineData(false, "images.idx3-ubyte")]
    [InlineData(true, "gzip-without-gz-extension.idx")]
    public void Should_round_trip_images_and_labels_given_gz_or_raw(bool gzip, string name)
    {
        // Given 3 images of 2x4 and their labels, written by hand
        var pixels = Pixels(3 * 2 * 4);
        var images = IdxTestFiles.Write(_dir, name, IdxTestFiles.Bytes(2051, [3, 2, 4], pixels), gzip);
        var labels = IdxTestFiles.Write(_dir, "labels" + name, IdxTestFiles.Bytes(2049, [3], [7, 0, 2]), gzip);

        // When read
        var readImages = IdxReader.ReadImages(images);
        var readLabels = IdxReader.ReadLabels(labels);

        // Then dimensions and bytes are identical
        Assert.Equal(2051, readImages.Magic);
        Assert.Equal([3, 2, 4], readImages.Dimensions);
        Assert.Equal(pixels, readImages.Data);
        Assert.Equal([3], readLabels.Dimensions);
        Assert.Equal(new byte[] { 7, 0, 2 }, readLabels.Data);
    }

    [Fact]
    public void Should_give_a_dataset_in_minus_one_to_one_given_idx_files()
    {
        var pixels = Pixels(3 * 2 * 4);
        var images = IdxTestFiles.Write(_dir, "i.gz", IdxTestFiles.Bytes(2051, [3, 2, 4], pixels), gzip: true);
        var labels = IdxTestFiles.Write(_dir, "l", IdxTestFiles.Bytes(2049, [3], [7, 0, 2]), gzip: false);
        var dataset = IdxDataset.Open(images, labels);

        var floats = new float[2 * 8];
        var batchLabels = new long[2];
        dataset.FillBatch([2, 0], floats, batchLabels);

        Assert.Equal((3, 1, 2, 4, 8), (dataset.Count, dataset.Channels, dataset.Height, dataset.Width, dataset.NumClasses));
        Assert.Equal(new long[] { 2, 7 }, batchLabels);
        Assert.Equal(pixels[16] / 127.5f - 1f, floats[0], 6);
        Assert.Equal(pixels[0] / 127.5f - 1f, floats[8], 6);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Should_name_the_file_given_a_wrong_magic(bool gzip)
    {
        var path = IdxTestFiles.Write(_dir, "labels-not-images.idx", IdxTestFiles.Bytes(2049, [3], [1, 2, 3]), gzip);

        var error = Assert.Throws<InvalidInputException>(() => IdxReader.ReadImages(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("2051", error.Message);
        Assert.Contains("2049", error.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Should_name_the_file_and_byte_counts_given_a_truncated_payload(bool gzip)
    {
        var bytes = IdxTestFiles.Bytes(2051, [2, 3, 3], Pixels(18));
        var path = IdxTestFiles.Write(_dir, "truncated.idx", bytes[..^5], gzip);

        var error = Assert.Throws<InvalidInputException>(() => IdxReader.ReadImages(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("18", error.Message);
        Assert.Contains("13", error.Message);
    }

    [Fact]
    public void Should_refuse_trailing_bytes_after_the_payload()
    {
        var path = IdxTestFiles.Write(_dir, "long.idx", IdxTestFiles.Bytes(2049, [2], [1, 2, 3]), gzip: false);

        var error = Assert.Throws<InvalidInputException>(() => IdxReader.ReadLabels(path));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Should_name_the_file_given_a_truncated_gzip_stream()
    {
        var full = Path.Combine(_dir, "full.gz");
        File.Copy(IdxTestFiles.Write(_dir, "tmp.gz", IdxTestFiles.Bytes(2051, [4, 16, 16], Pixels(1024)), gzip: true), full);
        var bytes = File.ReadAllBytes(full);
        var path = Path.Combine(_dir, "cut.gz");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<InvalidInputException>(() => IdxReader.ReadImages(path));

        Assert.Contains(path, error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x1F, 0x8B, 0x08, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 })]
    [InlineData(new byte[] { (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o', (byte)'!' })]
    [InlineData(new byte[] { 0, 0 })]
    [InlineData(new byte[] { })]
    public void Should_name_the_file_given_garbage(byte[] garbage)
    {
        var path = Path.Combine(_dir, "garbage.gz");
        File.WriteAllBytes(path, garbage);

        var error = Assert.Throws<InvalidInputException>(() => IdxReader.Read(path));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Should_refuse_unsupported_types_and_huge_or_zero_dimensions()
    {
        var floats = IdxTestFiles.Write(_dir, "f.idx", IdxTestFiles.Bytes(0x0D01, [1], [0, 0, 0, 0]), gzip: false);
        var huge = IdxTestFiles.Write(_dir, "h.idx", IdxTestFiles.Bytes(0x0803, [65536, 65536, 2], []), gzip: false);
        var zero = IdxTestFiles.Write(_dir, "z.idx", IdxTestFiles.Bytes(0x0803, [0, 28, 28], []), gzip: false);

        Assert.Contains("0x0D", Assert.Throws<InvalidInputException>(() => IdxReader.Read(floats)).Message);
        Assert.Contains("limit", Assert.Throws<InvalidInputException>(() => IdxReader.Read(huge)).Message);
        Assert.Contains(zero, Assert.Throws<InvalidInputException>(() => IdxReader.Read(zero)).Message);
    }

    [Fact]
    public void Should_name_the_file_given_a_missing_file()
    {
        var path = Path.Combine(_dir, "missing.gz");

        Assert.Contains(path, Assert.Throws<InvalidInputException>(() => IdxReader.Read(path)).Message);
    }
}
