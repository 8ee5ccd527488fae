using DiffusionSharp.Tests.Data;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Tests.Training;
using SkiaSharp;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse train --vae</c>, then <c>sample</c> (with a trajectory) and <c>edit</c> on the latent run, and its bad inputs.</summary>
public sealed class LatentCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public LatentCliTests()
    {
        Images = LatentTrainingTests.WriteImages(Path.Combine(_dir, "images"), 4);
        Vae = LatentTrainingTests.SaveVae(Path.Combine(_dir, "vae"));
        File.WriteAllText(LatentConfig, LatentTrainingTests.LatentUNet().ToJson());
        File.WriteAllText(RgbConfig, (LatentTrainingTests.LatentUNet() with { InChannels = 3, OutChannels = 3 }).ToJson());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Images { get; }

    private string Vae { get; }

    private string LatentConfig => Path.Combine(_dir, "latent-unet.json");

    private string RgbConfig => Path.Combine(_dir, "rgb-unet.json");

    private string[] Train(string run, params string[] more) =>
        ["train", "--data", Images, "--resolution", "64", "--vae", Vae, "--model", LatentConfig, "--steps", "2", "--batch", "2",
         "--checkpoint-every", "0", "--sample-count", "2", "--sample-steps", "2", "--threads", "1", "--out", run, .. more];

    private static (int Width, int Height) SizeOf(string png)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        return (bitmap.Width, bitmap.Height);
    }

    [Fact]
    public void Should_train_on_cached_latents_then_sample_and_edit_decoded_images()
    {
        // Given a 2-step latent run on four 64x64 images
        var run = Path.Combine(_dir, "run");
        var train = CliRunner.Run(Train(run));

        // Then it encodes the images once, writes vae/ and a final grid of decoded images
        Assert.True(train.ExitCode == 0, train.StdErr);
        Assert.Contains("latents: encoded 4 images to 4x16x16", train.StdOut);
        Assert.True(File.Exists(Path.Combine(run, "vae", "config.json")));
        Assert.True(File.Exists(Path.Combine(run, "samples", "reverse-process.png")));
        var (gridWidth, _) = SizeOf(Path.Combine(run, "samples", "step-0000002.png"));
        Assert.True(gridWidth >= 2 * 64, $"grid {gridWidth} px wide");

        // When it samples with a trajectory, Then the grid holds 64x64 images (not 16x16 latents)
        var grid = Path.Combine(_dir, "samples.png");
        var trajectory = Path.Combine(_dir, "trajectory.png");
        var sample = CliRunner.Run("sample", "--model", run, "--count", "1", "--batch", "1", "--steps", "2", "--sampler", "euler",
            "--trajectory", trajectory, "--frames", "2", "--threads", "1", "--out", grid);
        Assert.True(sample.ExitCode == 0, sample.StdErr);
        Assert.True(SizeOf(grid).Width >= 64, $"grid {SizeOf(grid).Width} px wide");
        Assert.True(SizeOf(trajectory).Height >= 2 * 64);

        // When one of the images is inpainted, Then the result is a 64x64 picture
        var mask = Path.Combine(_dir, "mask.png");
        ImageFolderLabelColumnTests.WriteRgba(mask, 64, 64, (x, _) => x < 32 ? (255, 255, 255, 255) : (0, 0, 0, 255));
        var edited = Path.Combine(_dir, "edited.png");
        var edit = CliRunner.Run("edit", "--model", run, "--image", Path.Combine(Images, "01.png"), "--mask", mask, "--steps", "2",
            "--sampler", "ddim", "--threads", "1", "--out", edited);
        Assert.True(edit.ExitCode == 0, edit.StdErr);
        Assert.Equal((64, 64), SizeOf(edited));

        // When bench sample times the run, Then every timed run includes the VAE decode of its batch
        var bench = CliRunner.Run("bench", "sample", "--model", run, "--sampler", "ddim", "--steps", "2", "--batch", "1",
            "--seconds", "0.01", "--windows", "2", "--warmup-steps", "0", "--ceiling", "10", "--threads", "1", "--json");
        Assert.True(bench.ExitCode == 0, bench.StdErr);
        using (var json = System.Text.Json.JsonDocument.Parse(bench.StdOut.Trim().Split('\n')[^1]))
        {
            var latent = json.RootElement.GetProperty("latent");
            Assert.Equal("AutoencoderKL", latent.GetProperty("vae").GetString());
            Assert.True(latent.GetProperty("decode_seconds").GetArrayLength() >= 1);
            Assert.True(json.RootElement.GetProperty("seconds_per_image").GetDouble() > 0);
        }

        // When the run is started again over the same data and VAE, Then the cache is reused
        var again = CliRunner.Run(Train(run, "--overwrite"));
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Contains("latents: reused the cache", again.StdOut);
    }

    [Theory]
    [InlineData("not-a-vae", "is not an AutoencoderKL or AutoencoderTiny folder")]
    [InlineData("rgb-unet", "latent_channels")]
    [InlineData("resolution-62", "--resolution 62: expected a positive multiple of 4")]
    [InlineData("flip", "--flip cannot be used with --vae")]
    public void Should_refuse_bad_latent_inputs_in_one_line_with_exit_code_2(string fault, string mustMention)
    {
        // Given a latent run whose VAE, model or resolution is wrong
        var notVae = Path.Combine(_dir, "unet-folder");
        Directory.CreateDirectory(notVae);
        File.WriteAllText(Path.Combine(notVae, "config.json"), LatentTrainingTests.LatentUNet().ToJson());
        var args = Train(Path.Combine(_dir, "bad-run")).ToList();
        if (fault == "not-a-vae") args[args.IndexOf("--vae") + 1] = notVae;
        if (fault == "rgb-unet") args[args.IndexOf("--model") + 1] = RgbConfig;
        if (fault == "resolution-62") args[args.IndexOf("--resolution") + 1] = "62";
        if (fault == "flip") args.Add("--flip");

        // When it is started, Then it stops with one error line naming the problem, exit code 2, no stack trace
        var r = CliRunner.Run([.. args]);
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.StdErr);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(mustMention, lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad-run", "unet")));
    }
}
