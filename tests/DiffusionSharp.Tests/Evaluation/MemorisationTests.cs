using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using DiffusionSharp.Imaging;
using DiffusionSharp.Tests.Data;
using DiffusionSharp.Tests.Support;
using TorchSharp;

namespace DiffusionSharp.Tests.Evaluation;

public sealed class MemorisationTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Five 8x8 RGB training images of seeded random pixels, written as PNGs into <c>train/</c>.</summary>
    private ImageFolderDataset WriteTraining()
    {
        var random = new Random(7);
        for (int i = 0; i < 5; i++)
        {
            var bytes = new byte[8 * 8 * 3];
            random.NextBytes(bytes);
            ImageFolderLabelColumnTests.WriteRgba(Path.Combine(_dir, "train", $"{i}.png"), 8, 8,
                (x, y) => (bytes[3 * (8 * y + x)], bytes[3 * (8 * y + x) + 1], bytes[3 * (8 * y + x) + 2], 255));
        }
        return ImageFolderDataset.Open(Path.Combine(_dir, "train"), 8);
    }

    [Fact]
    public void Should_find_a_planted_copy_and_its_training_index()
    {
        // Given five training images, and three samples: an exact copy of image 3, image 1 shifted by 0.05, and noise
        var training = WriteTraining();
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator(1);
        var copy = training.GetPixels(3).ToTensor();
        var nearCopy = training.GetPixels(1).ToTensor() + 0.05f;
        var noise = torch.rand([3, 8, 8], generator: generator) * 2 - 1;
        var samples = torch.stack([copy, nearCopy, noise]);

        // When checked with the default threshold 0.1
        var report = Memorisation.Check(samples, training);

        // Then the copy is at distance 0 from image 3, the shifted one about 0.05 from image 1 (a few values clip at 1),
        // the noise far from everything; two of three are near-copies
        Assert.Equal(3, report.NearestIndices[0]);
        Assert.Equal(0, report.Distances[0], 6);
        Assert.Equal(1, report.NearestIndices[1]);
        Assert.InRange(report.Distances[1], 0.04, 0.0501);
        Assert.True(report.Distances[2] > 0.3, $"noise at {report.Distances[2]}");
        Assert.Equal((2, 5), (report.NearCopyCount, report.TrainingCount));
        Assert.Equal(2.0 / 3, report.NearCopyFraction, 12);
    }

    [Fact]
    public void Should_refuse_samples_of_another_shape()
    {
        var training = WriteTraining();
        using var samples = torch.zeros(2, 1, 8, 8);

        var error = Assert.Throws<InvalidInputException>(() => Memorisation.Check(samples, training));

        Assert.Equal("samples: expected [N, 3, 8, 8] like the training images, found [2, 1, 8, 8]", error.Message);
    }

    [Fact]
    public void Should_report_the_planted_copy_from_the_command_line()
    {
        // Given a samples folder holding a copy of training image 2 and an all-gray image
        var training = WriteTraining();
        Directory.CreateDirectory(Path.Combine(_dir, "samples"));
        ImageFile.SavePng(training.GetPixels(2), Path.Combine(_dir, "samples", "00000.png"));
        ImageFolderLabelColumnTests.WriteRgba(Path.Combine(_dir, "samples", "00001.png"), 8, 8, (_, _) => (128, 128, 128, 255));

        // When diffuse eval checks it against the training folder
        var r = CliRunner.Run("eval", Path.Combine(_dir, "samples"), "--nearest-to", Path.Combine(_dir, "train"), "--json", "--threads", "1");

        // Then one of the two is a near-copy, of training image 2, at distance 0
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var json = System.Text.Json.JsonDocument.Parse(r.StdOut);
        Assert.Equal(1, json.RootElement.GetProperty("near_copies").GetInt32());
        Assert.Equal(0.5, json.RootElement.GetProperty("near_copy_fraction").GetDouble());
        Assert.Equal(2, json.RootElement.GetProperty("nearest_indices")[0].GetInt32());
        Assert.Equal(0, json.RootElement.GetProperty("distances")[0].GetDouble(), 6);

        // And a bad threshold is one line, exit code 2
        var bad = CliRunner.Run("eval", Path.Combine(_dir, "samples"), "--nearest-to", Path.Combine(_dir, "train"), "--near-copy", "0");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--near-copy", bad.StdErr);
    }

    [Fact]
    public void Should_find_a_copy_of_a_vae_reconstruction_only_when_comparing_through_the_vae()
    {
        // Given five training images and, as a latent model's memorised sample would be, the VAE's reconstruction of image 4
        // (diffusers' random-weight golden AutoencoderKL: its reconstructions are far from the pixels), and an all-gray image
        var training = WriteTraining();
        var vaeFolder = Path.Combine(TestPaths.Golden, "vae_kl");
        Directory.CreateDirectory(Path.Combine(_dir, "samples"));
        using (var vae = DiffusionSharp.Models.Autoencoders.AutoencoderKL.FromPretrained(vaeFolder))
        using (var scope = torch.NewDisposeScope())
        using (torch.inference_mode())
        {
            var back = vae.Reconstruct(training.GetPixels(4).ToTensor().unsqueeze(0)).clamp(-1, 1);
            ImageFile.SavePng(PixelImage.FromBatch(back)[0], Path.Combine(_dir, "samples", "00000.png"));
        }
        ImageFolderLabelColumnTests.WriteRgba(Path.Combine(_dir, "samples", "00001.png"), 8, 8, (_, _) => (128, 128, 128, 255));

        // When diffuse eval checks it against the training pixels, Then it is no near-copy
        var plain = CliRunner.Run("eval", Path.Combine(_dir, "samples"), "--nearest-to", Path.Combine(_dir, "train"), "--json", "--threads", "1");
        Assert.True(plain.ExitCode == 0, plain.StdErr);
        using var pixels = System.Text.Json.JsonDocument.Parse(plain.StdOut);
        Assert.True(pixels.RootElement.GetProperty("distances")[0].GetDouble() > 0.1, plain.StdOut);
        Assert.Equal("training images", pixels.RootElement.GetProperty("compared_with").GetString());

        // When it checks through the VAE, Then the sample is a copy of image 4's reconstruction, within 8-bit rounding
        var through = CliRunner.Run("eval", Path.Combine(_dir, "samples"), "--nearest-to", Path.Combine(_dir, "train"), "--vae", vaeFolder, "--json", "--threads", "1");
        Assert.True(through.ExitCode == 0, through.StdErr);
        using var json = System.Text.Json.JsonDocument.Parse(through.StdOut);
        Assert.Equal(4, json.RootElement.GetProperty("nearest_indices")[0].GetInt32());
        Assert.InRange(json.RootElement.GetProperty("distances")[0].GetDouble(), 0, 0.01);
        Assert.Equal("training images reconstructed by the VAE", json.RootElement.GetProperty("compared_with").GetString());

        // And --vae without --nearest-to, or at a folder that is no autoencoder, is one line, exit code 2
        var alone = CliRunner.Run("eval", Path.Combine(_dir, "samples"), "--vae", vaeFolder);
        Assert.Equal(2, alone.ExitCode);
        Assert.Contains("--vae needs --nearest-to", alone.StdErr);
        var missing = CliRunner.Run("eval", Path.Combine(_dir, "samples"), "--nearest-to", Path.Combine(_dir, "train"), "--vae", Path.Combine(_dir, "nope"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("nope", missing.StdErr);
        Assert.DoesNotContain("   at ", missing.StdErr);
    }
}
