using System.Text.Json;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse train-vae</c>: a tiny run end to end, resume, and bad input as one line with exit code 2.</summary>
public sealed class TrainVaeCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public TrainVaeCliTests()
    {
        TinyVae.WriteImages(Images, 10);
        File.WriteAllText(Config, TinyVae.Config().ToJson());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Images => Path.Combine(_dir, "images");

    private string Config => Path.Combine(_dir, "tiny-vae.json");

    private string Out => Path.Combine(_dir, "run");

    private static void AssertBadInput(CliRunner.Result r, string mustMention)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.StdErr);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(mustMention, lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    [Fact]
    public void Should_WriteVaeFolderImageAndPsnr_When_TrainedThenResumed()
    {
        var r = CliRunner.Run("train-vae", "--data", Images, "--model", Config, "--resolution", "16", "--steps", "4", "--batch", "4",
            "--held-out", "2", "--checkpoint-every", "2", "--threads", "1", "--out", Out);
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        Assert.Contains("held-out PSNR", r.StdOut);
        Assert.True(File.Exists(Path.Combine(Out, "reconstructions.png")));
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(Out, "reconstruction.json"))))
        {
            Assert.Equal(4, report.RootElement.GetProperty("step").GetInt32());
            Assert.True(report.RootElement.GetProperty("psnr_db").GetDouble() > 0);
            var config = AutoencoderKLConfig.Load(Path.Combine(Out, "vae", "config.json"));
            Assert.Equal(report.RootElement.GetProperty("scaling_factor").GetDouble(), config.ScalingFactor, 9);
        }

        var resumed = CliRunner.Run("train-vae", "--resume", "--steps", "6", "--threads", "1", "--out", Out);
        Assert.True(resumed.ExitCode == 0, resumed.StdErr + resumed.StdOut);
        using var after = JsonDocument.Parse(File.ReadAllText(Path.Combine(Out, "reconstruction.json")));
        Assert.Equal(6, after.RootElement.GetProperty("step").GetInt32());
    }

    [Fact]
    public void Should_NameResolution_When_NotAMultipleOfTheDownsampling() =>
        AssertBadInput(CliRunner.Run("train-vae", "--data", Images, "--resolution", "30", "--out", Out), "--resolution 30");

    [Fact]
    public void Should_NameTheChannels_When_GrayscaleImagesMeetAnRgbAutoencoder() =>
        AssertBadInput(CliRunner.Run("train-vae", "--data", Images, "--model", Config, "--resolution", "16", "--grayscale", "--out", Out), "in_channels 3");

    [Fact]
    public void Should_NameTheLoss_When_Unknown() =>
        AssertBadInput(CliRunner.Run("train-vae", "--data", Images, "--loss", "l3", "--out", Out), "--loss");

    [Fact]
    public void Should_NameKlWeight_When_Negative() =>
        AssertBadInput(CliRunner.Run("train-vae", "--data", Images, "--kl-weight", "-1", "--out", Out), "--kl-weight");
}
