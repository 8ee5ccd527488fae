using DiffusionSharp.Data;
using DiffusionSharp.Imaging;
using DiffusionSharp.Tests.Support;
using SkiaSharp;

namespace DiffusionSharp.Tests.Data;

/// <summary>Image folders in the Hugging Face imagefolder convention: label columns, captions, RGBA, resize and crop.</summary>
public sealed class ImageFolderLabelColumnTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a PNG whose pixels are exactly <paramref name="pixel"/>(x, y) as unpremultiplied RGBA.</summary>
    internal static void WriteRgba(string path, int width, int height, Func<int, int, (int R, int G, int B, int A)> pixel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var span = bitmap.GetPixelSpan();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (r, g, b, a) = pixel(x, y);
                int i = y * bitmap.RowBytes + 4 * x;
                (span[i], span[i + 1], span[i + 2], span[i + 3]) = ((byte)r, (byte)g, (byte)b, (byte)a);
            }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    private void WriteSolid(string name, byte r, byte g, byte b) => WriteRgba(Path.Combine(_dir, name), 4, 4, (_, _) => (r, g, b, 255));

    private void WriteMetadata(params string[] lines) => File.WriteAllLines(Path.Combine(_dir, ImageFolderMetadata.FileName), lines);

    private static (byte R, byte G, byte B) Pixel(PixelImage image, int x, int y)
    {
        int plane = image.Height * image.Width, i = y * image.Width + x;
        return (image.Pixels[i], image.Pixels[plane + i], image.Pixels[2 * plane + i]);
    }

    [Fact]
    public void Should_map_the_label_columns_sorted_names_to_class_indices_and_keep_captions()
    {
        // Given four rows whose "group" values are not in sorted order
        foreach (var n in new[] { "0", "1", "2", "3" }) WriteSolid($"images/{n}.png", 50, 60, 70);
        WriteMetadata(
            """{"file_name": "images/0.png", "text": "zero", "group": "Symbols"}""",
            """{"file_name": "images/1.png", "text": "one", "group": "Animals & Nature"}""",
            """{"file_name": "images/2.png", "group": "Smileys & Emotion"}""",
            """{"file_name": "images/3.png", "text": "three", "group": "Animals & Nature"}""");

        // When opened with --label-column group
        var dataset = ImageFolderDataset.Open(_dir, size: 4, labelColumn: "group");

        // Then the classes are the distinct values sorted ordinally, each image labelled by its value's index
        Assert.Equal(["Animals & Nature", "Smileys & Emotion", "Symbols"], dataset.ClassNames);
        Assert.Equal([2, 0, 1, 0], Enumerable.Range(0, 4).Select(dataset.GetLabel));
        Assert.Equal("group", dataset.LabelColumn);
        var labels = new long[2];
        dataset.FillBatch([3, 0], new float[2 * 3 * 16], labels);
        Assert.Equal([0L, 2L], labels);

        // And the captions stay readable, null where a row has none
        Assert.True(dataset.HasCaptions);
        IEnumerable<string?> captions = ["zero", "one", null, "three"];
        Assert.Equal(captions, Enumerable.Range(0, 4).Select(dataset.GetCaption));
    }

    [Fact]
    public void Should_be_unlabelled_with_metadata_but_no_label_column()
    {
        WriteSolid("a.png", 1, 2, 3);
        WriteMetadata("""{"file_name": "a.png", "group": "x"}""");

        var dataset = ImageFolderDataset.Open(_dir, size: 4);

        Assert.Equal((1, 0), (dataset.Count, dataset.NumClasses));
        Assert.Null(dataset.GetCaption(0));
    }

    [Fact]
    public void Should_refuse_a_label_column_for_a_folder_without_metadata()
    {
        WriteSolid("a.png", 1, 2, 3);

        var error = Assert.Throws<InvalidInputException>(() => ImageFolderDataset.Open(_dir, size: 4, labelColumn: "group"));

        Assert.Equal($"LabelColumn 'group': {_dir} has no metadata.jsonl to read it from", error.Message);
        Assert.Equal(ImageFolderDataset.LabelColumnProperty, error.Property);
    }

    [Fact]
    public void Should_skip_an_undecodable_image_with_a_count_or_name_it_given_strict()
    {
        // Given three listed images of which the middle one is not an image
        WriteSolid("a.png", 200, 0, 0);
        File.WriteAllText(Path.Combine(_dir, "broken.png"), "not a png");
        WriteSolid("c.png", 0, 0, 200);
        WriteMetadata(
            """{"file_name": "a.png", "text": "a", "group": "g1"}""",
            """{"file_name": "broken.png", "text": "b", "group": "g2"}""",
            """{"file_name": "c.png", "text": "c", "group": "g3"}""");

        // When opened leniently, the bad one is left out and counted; the others keep their labels and captions
        var dataset = ImageFolderDataset.Open(_dir, size: 4, labelColumn: "group");
        Assert.Equal("broken.png", Path.GetFileName(Assert.Single(dataset.SkippedFiles)));
        Assert.Equal(2, dataset.Count);
        Assert.Equal(["g1", "g2", "g3"], dataset.ClassNames);
        Assert.Equal([0, 2], new[] { dataset.GetLabel(0), dataset.GetLabel(1) });
        IEnumerable<string?> kept = ["a", "c"];
        Assert.Equal(kept, [dataset.GetCaption(0), dataset.GetCaption(1)]);
        Assert.Equal((200, 0, 0), Pixel(dataset.GetPixels(0), 1, 1));
        Assert.Equal((0, 0, 200), Pixel(dataset.GetPixels(1), 1, 1));

        // And with strict, the error names the file
        var error = Assert.Throws<InvalidInputException>(() => ImageFolderDataset.Open(_dir, size: 4, strict: true, labelColumn: "group"));
        Assert.StartsWith(Path.Combine(_dir, "broken.png") + ": ", error.Message);
    }

    [Theory]
    [InlineData(null, 255, 127, 127)]       // white: 128 + round(255 * 127 / 255) = 255, 0 + 127, 0 + 127
    [InlineData("black", 128, 0, 0)]        // black: the premultiplied value itself
    [InlineData("#204060", 144, 32, 48)]    // (32, 64, 96): 128 + round(32 * 127 / 255) = 144, round(64 * 127 / 255) = 32, round(96 * 127 / 255) = 48
    public void Should_composite_rgba_onto_the_background(string? background, int r, int g, int b)
    {
        // Given a 3x1 RGBA image: opaque (10, 20, 30), red at alpha 128, green at alpha 0
        WriteRgba(Path.Combine(_dir, "rgba.png"), 3, 1, (x, _) => x switch
        {
            0 => (10, 20, 30, 255),
            1 => (255, 0, 0, 128),
            _ => (0, 255, 0, 0),
        });
        var backdrop = background is null ? RgbColor.White : RgbColor.Parse(background, "DataSpec.Background");

        // When decoded at its own size (no resampling) onto the background
        var image = ImageFile.LoadPixels(Path.Combine(_dir, "rgba.png"), background: backdrop);

        // Then opaque pixels keep their bytes, the half-transparent one is premultiplied red over the background, the
        // transparent one is the background exactly
        Assert.Equal((3, 1, 3), (image.Channels, image.Height, image.Width));
        Assert.Equal((10, 20, 30), Pixel(image, 0, 0));
        Assert.Equal(((byte)r, (byte)g, (byte)b), Pixel(image, 1, 0));
        Assert.Equal((backdrop.R, backdrop.G, backdrop.B), Pixel(image, 2, 0));
    }

    [Fact]
    public void Should_composite_folder_images_onto_the_datasets_background()
    {
        WriteRgba(Path.Combine(_dir, "clear.png"), 4, 4, (_, _) => (0, 255, 0, 0));
        WriteMetadata("""{"file_name": "clear.png"}""");

        var dataset = new DataSpec(_dir, Background: "#204060").Open(4);

        Assert.Equal(((byte)32, (byte)64, (byte)96), Pixel(((ImageFolderDataset)dataset).GetPixels(0), 2, 3));
    }

    [Fact]
    public void Should_resize_the_shorter_side_and_crop_the_centre()
    {
        // Given a 12x6 image, red | green | blue in columns of 3, 6 and 3, and a 24x12 one of twice that
        WriteRgba(Path.Combine(_dir, "a.png"), 12, 6, (x, _) => x < 3 ? (255, 0, 0, 255) : x < 9 ? (0, 255, 0, 255) : (0, 0, 255, 255));
        WriteRgba(Path.Combine(_dir, "b.png"), 24, 12, (x, _) => x < 6 ? (255, 0, 0, 255) : x < 18 ? (0, 255, 0, 255) : (0, 0, 255, 255));

        // When opened at 6 x 6
        var dataset = ImageFolderDataset.Open(_dir, size: 6);

        // Then both are 3x6x6; the same-size crop is the green middle exactly, the halved one green in its interior
        Assert.Equal((3, 6, 6), (dataset.Channels, dataset.Height, dataset.Width));
        var same = dataset.GetPixels(0);
        Assert.All(Enumerable.Range(0, 36), i => Assert.Equal((0, 255, 0), Pixel(same, i % 6, i / 6)));
        var halved = dataset.GetPixels(1);
        for (int x = 1; x < 5; x++)
        {
            var (r, g, b) = Pixel(halved, x, 3);
            Assert.True(r <= 2 && g >= 253 && b <= 2, $"column {x}: ({r}, {g}, {b})");
        }
    }

    [Fact]
    public void Should_find_the_bundled_emoji_with_their_licences_and_nine_groups()
    {
        // Given the repository's data/emoji (what --data emoji opens)
        var dir = BundledData.FindEmojiDirectory(AppContext.BaseDirectory);
        Assert.NotNull(dir);
        Assert.True(File.Exists(Path.Combine(dir, "LICENSE-noto-color-emoji.txt")));
        Assert.True(File.Exists(Path.Combine(dir, "LICENSE-unicode-data.txt")));

        // When its metadata is read (every listed image must exist)
        var metadata = ImageFolderMetadata.Read(Path.Combine(dir, ImageFolderMetadata.FileName));

        // Then it lists the 3,655 emoji with captions and the README's nine groups
        Assert.Equal(3655, metadata.Count);
        Assert.Equal("grinning face", metadata.Column("text")![0]);
        var groups = metadata.RequiredColumn("group", "DataSpec.LabelColumn").Distinct().Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["Activities", "Animals & Nature", "Flags", "Food & Drink", "Objects", "People & Body", "Smileys & Emotion", "Symbols", "Travel & Places"], groups);
    }
}
