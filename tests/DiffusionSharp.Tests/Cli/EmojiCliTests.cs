using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Data;
using DiffusionSharp.Tests.Support;
using SkiaSharp;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse train</c> and <c>sample</c> on colour images in the imagefolder convention, class-conditional on a label column.</summary>
public sealed class EmojiCliTests : IDisposable
{
    private static readonly string[] Groups = ["Animals & Nature", "Smileys & Emotion", "Symbols"];

    private readonly string _dir = TestPaths.NewTempDir();

    public EmojiCliTests()
    {
        // Six 20x20 images (three RGBA with a transparent border) in three groups, plus one listed file that is no image
        var images = Path.Combine(_dir, "emoji");
        var rows = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            byte r = (byte)(40 * i), g = (byte)(255 - 40 * i);
            bool rgba = i % 2 == 1;
            ImageFolderLabelColumnTests.WriteRgba(Path.Combine(images, "images", $"{i}.png"), 20, 20,
                (x, y) => rgba && (x < 3 || y < 3) ? (0, 0, 0, 0) : (r, g, x * 12, 255));
            rows.Add($$"""{"file_name": "images/{{i}}.png", "text": "emoji {{i}}", "group": "{{Groups[2 - i % 3]}}"}""");
        }
        File.WriteAllText(Path.Combine(images, "images", "broken.png"), "not a png");
        rows.Add("""{"file_name": "images/broken.png", "text": "broken", "group": "Symbols"}""");
        File.WriteAllLines(Path.Combine(images, "metadata.jsonl"), rows);
        Folder = images;
        File.WriteAllText(Config, TinyRgbUNet().ToJson());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Folder { get; }

    private string Config => Path.Combine(_dir, "tiny-rgb.json");

    private static UNet2DConfig TinyRgbUNet() => TinyData.TinyUNet() with { SampleSize = 16, InChannels = 3, OutChannels = 3 };

    private static void AssertBadInput(CliRunner.Result r, string mustMention)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.StdErr);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(mustMention, lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    /// <summary>Whether some pixel of the PNG has unequal red, green and blue: a colour picture, not a gray one.</summary>
    private static bool HasColour(string png)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                if (Math.Abs(c.Red - c.Green) > 8 || Math.Abs(c.Green - c.Blue) > 8) return true;
            }
        return false;
    }

    [Fact]
    public void Should_train_on_a_label_column_then_sample_a_class_by_name_with_guidance()
    {
        // Given a 2-step class-conditional run on the fixture at --resolution 16, conditioned on "group"
        var run = Path.Combine(_dir, "run");
        var train = CliRunner.Run("train", "--data", Folder, "--resolution", "16", "--model", Config, "--class-conditional",
            "--label-column", "group", "--steps", "2", "--batch", "4", "--checkpoint-every", "0", "--sample-count", "3",
            "--sample-steps", "2", "--threads", "1", "--out", run);

        // Then it trains, reports the skipped file, records the sorted class names and draws colour pictures
        Assert.True(train.ExitCode == 0, train.StdErr);
        Assert.Contains("skipped 1 unreadable image(s)", train.StdOut);
        Assert.Equal(Groups, ClassNamesFile.Read(run));
        Assert.Contains("\"num_class_embeds\": 4", File.ReadAllText(Path.Combine(run, "unet", "config.json")));
        Assert.True(HasColour(Path.Combine(run, "samples", "step-0000002.png")), "the sample grid is gray");
        Assert.True(HasColour(Path.Combine(run, "samples", "reverse-process.png")), "the filmstrip is gray");

        // When one class is sampled by name with guidance, and by index
        var byName = Path.Combine(_dir, "smileys.png");
        var each = Path.Combine(_dir, "each");
        var named = CliRunner.Run("sample", "--model", run, "--ema", "--class", "Smileys & Emotion", "--guidance", "2",
            "--sampler", "ddim", "--steps", "2", "--count", "2", "--threads", "1", "--out", byName, "--individual", each);
        var byIndex = Path.Combine(_dir, "one.png");
        var indexed = CliRunner.Run("sample", "--model", run, "--ema", "--class", "1", "--guidance", "2",
            "--sampler", "ddim", "--steps", "2", "--count", "2", "--threads", "1", "--out", byIndex);

        // Then both work and, with the same seed, draw the same images
        Assert.True(named.ExitCode == 0, named.StdErr);
        Assert.True(indexed.ExitCode == 0, indexed.StdErr);
        Assert.Equal(File.ReadAllBytes(byIndex), File.ReadAllBytes(byName));

        // And the single images carry their requested class by name, imagefolder-style, for diffuse eval's accuracy
        Assert.Equal(
            "{\"file_name\": \"00000.png\", \"label\": \"Smileys & Emotion\"}\n{\"file_name\": \"00001.png\", \"label\": \"Smileys & Emotion\"}\n",
            File.ReadAllText(Path.Combine(each, "metadata.jsonl")));

        // And edit takes the class by name too: the same edit as by its number, and 'all' is refused (one class per edit)
        var image = Path.Combine(each, "00000.png");
        var editedByName = Path.Combine(_dir, "edit-name.png");
        var editedByIndex = Path.Combine(_dir, "edit-index.png");
        var editName = CliRunner.Run("edit", "--model", run, "--ema", "--image", image, "--class", "Smileys & Emotion", "--guidance", "2",
            "--strength", "0.5", "--steps", "4", "--sampler", "ddim", "--threads", "1", "--out", editedByName);
        var editIndex = CliRunner.Run("edit", "--model", run, "--ema", "--image", image, "--class", "1", "--guidance", "2",
            "--strength", "0.5", "--steps", "4", "--sampler", "ddim", "--threads", "1", "--out", editedByIndex);
        Assert.True(editName.ExitCode == 0, editName.StdErr);
        Assert.True(editIndex.ExitCode == 0, editIndex.StdErr);
        Assert.Equal(File.ReadAllBytes(editedByIndex), File.ReadAllBytes(editedByName));
        AssertBadInput(CliRunner.Run("edit", "--model", run, "--ema", "--image", image, "--class", "all", "--steps", "2", "--out", Path.Combine(_dir, "e.png")),
            "--class: an edit steers toward one class (got 'all')");

        // And an unknown name is one line listing the classes
        AssertBadInput(CliRunner.Run("sample", "--model", run, "--class", "Flags", "--steps", "2", "--count", "1", "--out", Path.Combine(_dir, "x.png")),
            "--class: 'Flags' is not a class number, 'all', a comma-separated list or one of this model's classes ('Animals & Nature'");
    }

    [Theory]
    [InlineData("--resolution 15", "--resolution 15: expected a positive multiple of 2")]
    [InlineData("--label-column kind", "--label-column 'kind': ")]
    [InlineData("--label-column group --strict", "broken.png: expected a PNG or JPEG image")]
    [InlineData("--background purple", "--background: 'purple' is not a colour")]
    [InlineData("--class-conditional", "(name a metadata.jsonl column with --label-column)")]
    public void Should_reject_bad_image_folder_input_in_one_line_before_writing(string options, string mention)
    {
        var outDir = Path.Combine(_dir, "bad-run");
        AssertBadInput(CliRunner.Run(["train", "--data", Folder, "--model", Config, "--steps", "1", "--threads", "1", .. options.Split(' '), "--out", outDir]), mention);
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any(), "nothing may be written on bad input");
    }

    [Fact]
    public void Should_name_the_metadata_line_of_a_missing_image()
    {
        File.AppendAllText(Path.Combine(Folder, "metadata.jsonl"), """{"file_name": "images/gone.png", "group": "Symbols"}""" + "\n");

        var r = CliRunner.Run("train", "--data", Folder, "--model", Config, "--steps", "1", "--out", Path.Combine(_dir, "bad-run"));

        AssertBadInput(r, Path.Combine(Folder, "metadata.jsonl") + ":8: \"images/gone.png\" not found");
    }

    [Theory]
    [InlineData("--label-column nope", "--label-column 'nope': ")]
    [InlineData("--resolution 30 --model emoji32-small", "--resolution 30: expected a positive multiple of 4")]
    [InlineData("--model mnist-tiny --resolution 32 --label-column group", "--model has in_channels 1 but the --data images have 3 channel(s) (use --grayscale")]
    public void Should_resolve_data_emoji_to_the_bundled_set(string options, string mention)
    {
        // Each fails before any image is trained on (the last after decoding the set, as a channel mismatch)
        AssertBadInput(CliRunner.Run(["train", "--data", "emoji", "--steps", "1", "--threads", "1", .. options.Split(' '), "--out", Path.Combine(_dir, "bad-run")]), mention);
    }
}
