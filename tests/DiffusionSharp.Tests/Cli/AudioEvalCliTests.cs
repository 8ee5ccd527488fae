using System.Globalization;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Cli;

/// <summary>
/// <c>train --eval-every</c> and <c>sample --eval</c> on audio models: the shipped spoken-digit classifier scores the clips
/// (Fréchet distance, accuracy against the requested digits), and clips it cannot score are refused before any work.
/// </summary>
public sealed class AudioEvalCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A two-level 1-D U-Net of 32 channels for clips of <paramref name="length"/> samples: fast enough to sample 100 clips.</summary>
    private string TinyConfig(int length)
    {
        var path = Path.Combine(_dir, $"tiny-{length}.json");
        File.WriteAllText(path, new AudioUNet1DConfig
        {
            SampleSize = length, BlockOutChannels = [32, 32], DownFactors = [4], AttentionLevels = [false, false], PatchSize = 4,
        }.ToJson());
        return path;
    }

    [Fact]
    public void Should_score_guided_clips_every_K_steps_into_eval_csv_and_after_sampling_with_the_spoken_digit_classifier()
    {
        // Given a class-conditional tiny audio model trained for 2 steps with an evaluation every 2 steps at guidance 2
        var run = Path.Combine(_dir, "run");
        var train = CliRunner.Run("train", "--data", "spoken-digits", "--model", TinyConfig(8192), "--class-conditional", "--steps", "2",
            "--batch", "4", "--warmup", "1", "--eval-every", "2", "--eval-count", "100", "--eval-guidance", "2", "--sample-steps", "2",
            "--sample-count", "10", "--checkpoint-every", "0", "--out", run, "--threads", "1");
        Assert.True(train.ExitCode == 0, train.StdErr);

        // Then eval.csv holds one row for step 2: 100 clips, guidance 2, a finite positive distance, an accuracy in [0, 1]
        var lines = File.ReadAllLines(Path.Combine(run, "eval.csv"));
        Assert.Equal("step,samples,guidance,frechet_distance,mean_confidence,accuracy", lines[0]);
        Assert.Equal(2, lines.Length);
        var cells = lines[1].Split(',');
        Assert.Equal(["2", "100", "2"], cells[..3]);
        var fd = double.Parse(cells[3], CultureInfo.InvariantCulture);
        Assert.True(double.IsFinite(fd) && fd > 0, lines[1]);
        Assert.InRange(double.Parse(cells[5], CultureInfo.InvariantCulture), 0, 1);
        Assert.Contains("eval at step 2: Fréchet distance", train.StdOut);

        // And sample --eval scores 100 clips of every digit with the same classifier, accuracy included
        var sample = CliRunner.Run("sample", "--model", run, "--class", "all", "--count", "100", "--steps", "2", "--guidance", "2",
            "--eval", "--out", Path.Combine(_dir, "clips.png"), "--threads", "1");
        Assert.True(sample.ExitCode == 0, sample.StdErr);
        Assert.Contains("100 clips", sample.StdOut);
        Assert.Contains("Fréchet distance", sample.StdOut);
        Assert.Contains("accuracy", sample.StdOut);
        Assert.Matches(@"accuracy\s*│\s*\d+\.\d\d%", sample.StdOut);
    }

    [Fact]
    public void Should_refuse_to_score_clips_of_another_length_in_one_line_before_sampling()
    {
        // Given an untrained audio model of 4,096-sample clips saved as a folder
        var folder = Path.Combine(_dir, "short");
        using (var model = new AudioUNet1DModel(AudioUNet1DConfig.Load(TinyConfig(4096)))) model.SavePretrained(folder);

        // When sample --eval is asked to score it
        var r = CliRunner.Run("sample", "--model", folder, "--count", "100", "--steps", "2", "--eval", "--out", Path.Combine(_dir, "s.png"), "--threads", "1");

        // Then one line names the option and the lengths, exit code 2, and no picture was written
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.StdErr);
        Assert.Contains("--eval: the spoken-digit classifier scores mono clips of 8192 samples at 8000 Hz; this model makes 1-channel clips of 4096 samples", lines[0]);
        Assert.False(File.Exists(Path.Combine(_dir, "s.png")));
    }
}
