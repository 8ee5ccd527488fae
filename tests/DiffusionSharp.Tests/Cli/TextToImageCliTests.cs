using DiffusionSharp.Imaging;
using DiffusionSharp.IO;
using DiffusionSharp.Tests.Pipelines;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse sample --prompt</c> and <c>diffuse model check</c> on the golden Stable Diffusion pipeline folder.</summary>
[Collection(CliCollection.Name)]
public sealed class TextToImageCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Folder => StableDiffusionPipelineGoldenTests.Folder;

    [Fact]
    public void Should_WriteDiffusersImage_When_SamplingWithAPrompt()
    {
        // Given the golden run's settings on the command line
        var png = Path.Combine(_dir, "astronaut.png");
        var (code, output, error) = InProcessCli.Run("sample", "--model", Folder, "--prompt", "a photo of an astronaut riding a horse on mars",
            "--negative-prompt", "blurry, low quality", "--guidance", "7.5", "--steps", "4", "--size", "32x32", "--seed", "600", "--count", "1",
            "--out", png, "--threads", "1");
        Assert.True(code == 0, output + error);

        // Then the PNG holds diffusers' 8-bit image within rounding
        var pixels = ImageFile.LoadPixels(png);
        Assert.Equal((3, 32, 32), (pixels.Channels, pixels.Height, pixels.Width));
        using var want = SafetensorsFile.Load(SafetensorsFile.ReadHeader(Path.Combine(Folder, "chain.safetensors")), ["image_uint8"])["image_uint8"];
        var want8 = want.data<long>().ToArray();
        int worst = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                for (int c = 0; c < 3; c++)
                    worst = Math.Max(worst, (int)Math.Abs(pixels.Pixels[(c * 32 + y) * 32 + x] - want8[(y * 32 + x) * 3 + c]));
        Assert.InRange(worst, 0, 1);
    }

    [Fact]
    public void Should_PassAndFail_When_CheckingThePipelineAgainstTheChain()
    {
        var reference = Path.Combine(Folder, "chain.safetensors");
        var ok = InProcessCli.Run("model", "check", "--model", Folder, "--reference", reference, "--threads", "1");
        Assert.True(ok.Code == 0, ok.Out + ok.Err);
        Assert.Contains("PASS", ok.Out);
        Assert.Contains("step 3", ok.Out);
        var strict = InProcessCli.Run("model", "check", "--model", Folder, "--reference", reference, "--tolerance", "1e-12", "--threads", "1");
        Assert.Equal(3, strict.Code);
        Assert.Contains("FAIL", strict.Out);
    }

    [Fact]
    public void Should_ExitBadInput_When_TheFolderMissesAComponent()
    {
        var folder = StableDiffusionPipelineInputTests.CopyGolden(_dir);
        Directory.Delete(Path.Combine(folder, "unet"), true);
        var r = InProcessCli.Run("sample", "--model", folder, "--prompt", "a cat", "--steps", "1", "--out", Path.Combine(_dir, "x.png"), "--threads", "1");
        Assert.Equal(2, r.Code);
        Assert.Contains("'unet'", r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "x.png")));
    }

    [Fact]
    public void Should_ExitBadInput_When_TheSizeIsNotAMultipleOfTheVaeFactor()
    {
        var r = InProcessCli.Run("sample", "--model", Folder, "--prompt", "a cat", "--steps", "1", "--size", "33x32", "--out", Path.Combine(_dir, "x.png"), "--threads", "1");
        Assert.Equal(2, r.Code);
        Assert.Contains("--size", r.Err);
        Assert.Contains("33x32", r.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "x.png")));

        var malformed = InProcessCli.Run("sample", "--model", Folder, "--prompt", "a cat", "--size", "32", "--out", Path.Combine(_dir, "x.png"));
        Assert.Equal(2, malformed.Code);
        Assert.Contains("--size", malformed.Err);
    }

    [Fact]
    public void Should_WarnAndTruncate_When_ThePromptIsLongerThan77Tokens()
    {
        var png = Path.Combine(_dir, "long.png");
        var r = InProcessCli.Run("sample", "--model", Folder, "--prompt", string.Join(" ", Enumerable.Repeat("astronaut horse", 60)),
            "--guidance", "7.5", "--steps", "1", "--count", "1", "--out", png, "--threads", "1");
        Assert.True(r.Code == 0, r.Out + r.Err);
        Assert.Contains("warning: --prompt", r.Err);
        Assert.Contains("truncated", r.Err);
        Assert.True(File.Exists(png));
    }

    [Fact]
    public void Should_ExitBadInput_When_APromptIsGivenToAnUnconditionalModel()
    {
        var (root, model) = Pipelines.TinyModels.SaveFresh();
        try
        {
            var r = InProcessCli.Run("sample", "--model", model, "--prompt", "a cat", "--steps", "1", "--out", Path.Combine(_dir, "x.png"), "--threads", "1");
            Assert.Equal(2, r.Code);
            Assert.Contains("--prompt", r.Err);
            Assert.Contains("UNet2DModel", r.Err);
            Assert.DoesNotContain("   at ", r.Err);

            var negativeAlone = InProcessCli.Run("sample", "--model", model, "--negative-prompt", "blurry", "--out", Path.Combine(_dir, "x.png"));
            Assert.Equal(2, negativeAlone.Code);
            Assert.Contains("--negative-prompt needs --prompt", negativeAlone.Err);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void Should_DrawOneRowPerPrompt_When_SamplingAPromptFile()
    {
        // Given a prompt file of two prompts (and a blank line, skipped)
        var prompts = Path.Combine(_dir, "prompts.txt");
        File.WriteAllText(prompts, "a cat\n\n  a photo of an astronaut  \n");
        var grid = Path.Combine(_dir, "grid.png");
        var dir = Path.Combine(_dir, "each");
        var r = InProcessCli.Run("sample", "--model", Folder, "--prompt-file", prompts, "--guidance", "7.5", "--steps", "1", "--size", "32x32",
            "--count", "4", "--seed", "10", "--individual", dir, "--out", grid, "--threads", "1");
        Assert.True(r.Code == 0, r.Out + r.Err);

        // Then every image is labelled with its own prompt, in order
        var rows = File.ReadAllLines(Path.Combine(dir, "metadata.jsonl"));
        Assert.Equal(8, rows.Length);
        Assert.Equal("{\"file_name\":\"00003.png\",\"text\":\"a cat\"}", rows[3]);
        Assert.Equal("{\"file_name\":\"00004.png\",\"text\":\"a photo of an astronaut\"}", rows[4]);
        Assert.All(rows[4..], r => Assert.Contains("astronaut", r));
        // And the grid has one row of 4 per prompt (the default would be 3 columns)
        var pixels = ImageFile.LoadPixels(grid);
        Assert.InRange(pixels.Width / (double)pixels.Height, 1.8, 2.2);

        // And image 4 (the second prompt's first) is what --prompt gives with seed 10 + 4
        var single = Path.Combine(_dir, "single.png");
        var one = InProcessCli.Run("sample", "--model", Folder, "--prompt", "a photo of an astronaut", "--guidance", "7.5", "--steps", "1",
            "--size", "32x32", "--count", "1", "--seed", "14", "--out", single, "--threads", "1");
        Assert.True(one.Code == 0, one.Out + one.Err);
        Assert.Equal(ImageFile.LoadPixels(single).Pixels, ImageFile.LoadPixels(Path.Combine(dir, "00004.png")).Pixels);
        Assert.NotEqual(ImageFile.LoadPixels(single).Pixels, ImageFile.LoadPixels(Path.Combine(dir, "00005.png")).Pixels);
    }

    [Fact]
    public void Should_ExitBadInput_When_ThePromptFileIsMissingEmptyOrGivenWithAPrompt()
    {
        var png = Path.Combine(_dir, "x.png");
        var missing = InProcessCli.Run("sample", "--model", Folder, "--prompt-file", Path.Combine(_dir, "nope.txt"), "--steps", "1", "--out", png, "--threads", "1");
        Assert.Equal(2, missing.Code);
        Assert.Contains("--prompt-file", missing.Err);
        Assert.Contains("nope.txt", missing.Err);
        Assert.DoesNotContain("   at ", missing.Err);

        var blank = Path.Combine(_dir, "blank.txt");
        File.WriteAllText(blank, "\n   \n");
        var empty = InProcessCli.Run("sample", "--model", Folder, "--prompt-file", blank, "--steps", "1", "--out", png, "--threads", "1");
        Assert.Equal(2, empty.Code);
        Assert.Contains("holds no prompt", empty.Err);

        var both = InProcessCli.Run("sample", "--model", Folder, "--prompt", "a cat", "--prompt-file", blank, "--out", png);
        Assert.Equal(2, both.Code);
        Assert.Contains("--prompt and --prompt-file", both.Err);
        Assert.False(File.Exists(png));
    }
}
