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
}
