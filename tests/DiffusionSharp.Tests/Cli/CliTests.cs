using System.Text.Json;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using SkiaSharp;

namespace DiffusionSharp.Tests.Cli;

public sealed class CliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void AssertBadInput(CliRunner.Result r, string mustMention)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(mustMention, lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    private static (int Width, int Height) PngSize(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        return (bitmap.Width, bitmap.Height);
    }

    [Fact]
    public void Should_print_the_schedule_arrays_as_json()
    {
        var r = CliRunner.Run("schedule", "--beta-schedule", "cosine", "--timesteps", "50", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.StdOut);
        var expected = NoiseSchedule.Create(new NoiseScheduleConfig(50, Schedule: BetaSchedule.SquaredCosCapV2));
        Assert.Equal(expected.Betas.ToArray(), doc.RootElement.GetProperty("betas").EnumerateArray().Select(e => e.GetSingle()).ToArray());
        Assert.Equal(expected.AlphasCumprod.ToArray(), doc.RootElement.GetProperty("alphas_cumprod").EnumerateArray().Select(e => e.GetSingle()).ToArray());
    }

    [Fact]
    public void Should_plot_the_schedule()
    {
        var png = Path.Combine(_dir, "schedule.png");
        var r = CliRunner.Run("schedule", "--plot", png);
        Assert.Equal(0, r.ExitCode);
        var (w, h) = PngSize(png);
        Assert.True(w > 300 && h > 300);
    }

    [Theory]
    [InlineData("--timesteps", "0", "--timesteps")]
    [InlineData("--beta-schedule", "quadratic", "--beta-schedule")]
    [InlineData("--beta-end", "0.00001", "--beta-end")]
    [InlineData("--timesteps", "abc", "--timesteps")]
    public void Should_reject_bad_schedule_options_in_one_line(string option, string value, string mention) =>
        AssertBadInput(CliRunner.Run("schedule", option, value), mention);

    [Fact]
    public void Should_reject_an_unknown_option() => AssertBadInput(CliRunner.Run("schedule", "--bogus"), "bogus");

    [Fact]
    public void Should_draw_the_forward_process_filmstrip_of_a_bundled_digit()
    {
        var png = Path.Combine(_dir, "strip.png");
        var r = CliRunner.Run("noise", "--image", "mnist:3", "--timesteps", "0,250,999", "--rows", "2", "--seed", "1", "--out", png);
        Assert.Equal(0, r.ExitCode);
        var (w, h) = PngSize(png);
        Assert.True(w >= 3 * 28 * 4 && h >= 2 * 28 * 4, $"3 columns x 2 rows of 4x digits, got {w}x{h}");
    }

    [Theory]
    [InlineData("--timesteps", "0,1000", "outside [0, 999]")]
    [InlineData("--timesteps", "0,,5", "--timesteps")]
    [InlineData("--image", "missing.png", "missing.png")]
    public void Should_reject_bad_noise_options(string option, string value, string mention) =>
        AssertBadInput(CliRunner.Run("noise", option, value, "--out", Path.Combine(_dir, "x.png")), mention);

    [Fact]
    public void Should_reject_a_file_that_is_not_an_image()
    {
        var fake = Path.Combine(_dir, "fake.png");
        File.WriteAllText(fake, "not an image");
        AssertBadInput(CliRunner.Run("noise", "--image", fake, "--out", Path.Combine(_dir, "x.png")), "fake.png");
        Assert.False(File.Exists(Path.Combine(_dir, "x.png")));
    }

    [Fact]
    public void Should_pass_model_check_on_the_golden_unet_and_fail_with_a_tiny_tolerance()
    {
        var folder = Path.Combine(TestPaths.Golden, "unet");
        var reference = Path.Combine(folder, "io.safetensors");
        var ok = CliRunner.Run("model", "check", "--model", folder, "--reference", reference);
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("PASS", ok.StdOut);
        var strict = CliRunner.Run("model", "check", "--model", folder, "--reference", reference, "--tolerance", "1e-12");
        Assert.Equal(3, strict.ExitCode);
        Assert.Contains("FAIL", strict.StdOut);
    }

    [Fact]
    public void Should_report_diffusers_parameter_count_for_cifar10_ddpm()
    {
        var r = CliRunner.Run("model", "info", "--model", "cifar10-ddpm", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.StdOut);
        Assert.Equal(35_746_307, doc.RootElement.GetProperty("parameters").GetInt64());
        Assert.InRange(doc.RootElement.GetProperty("forward_gflops_per_image").GetDouble(), 10, 15);
    }

    [Fact]
    public void Should_sample_a_grid_and_a_trajectory_from_a_trained_run()
    {
        // Given a run trained for a few steps
        var run = TrainTinyRun();

        // When we sample 6 images with DDIM in 4 steps, and draw the reverse process
        var grid = Path.Combine(_dir, "grid.png");
        var trajectory = Path.Combine(_dir, "trajectory.png");
        var r = CliRunner.Run("sample", "--model", run, "--ema", "--sampler", "ddim", "--steps", "4", "--count", "6", "--nrow", "3",
            "--seed", "5", "--out", grid, "--trajectory", trajectory, "--frames", "3", "--trajectory-samples", "2",
            "--individual", Path.Combine(_dir, "each"));

        // Then a 3x2 grid, a trajectory and 6 single images exist
        Assert.True(r.ExitCode == 0, r.StdErr);
        var (w, h) = PngSize(grid);
        Assert.True(w > h, $"3 columns by 2 rows should be wider than tall, got {w}x{h}");
        Assert.True(File.Exists(trajectory));
        Assert.Equal(6, Directory.GetFiles(Path.Combine(_dir, "each"), "*.png").Length);
        Assert.Equal((28, 28), PngSize(Path.Combine(_dir, "each", "00000.png")));

        // And the same seed gives the same picture
        var again = Path.Combine(_dir, "grid2.png");
        Assert.Equal(0, CliRunner.Run("sample", "--model", run, "--ema", "--sampler", "ddim", "--steps", "4", "--count", "6", "--nrow", "3", "--seed", "5", "--out", again).ExitCode);
        Assert.Equal(File.ReadAllBytes(grid), File.ReadAllBytes(again));
    }

    [Fact]
    public void Should_sample_with_karras_sigmas_and_a_chosen_spacing()
    {
        // Given a run trained for a few steps
        var run = TrainTinyRun();

        // When DPM-Solver++ samples with linspace spacing, with and without Karras sigmas
        string Sample(string name, params string[] extra)
        {
            var path = Path.Combine(_dir, name);
            var r = CliRunner.Run(["sample", "--model", run, "--sampler", "dpmpp-2m", "--steps", "4", "--count", "2", "--seed", "3",
                "--spacing", "linspace", .. extra, "--out", path]);
            Assert.True(r.ExitCode == 0, r.StdErr);
            return path;
        }
        var plain = Sample("plain.png");
        var karras = Sample("karras.png", "--karras");

        // Then both are written and the noise levels changed the result
        Assert.NotEqual(File.ReadAllBytes(plain), File.ReadAllBytes(karras));
    }

    [Fact]
    public void Should_score_samples_directly_with_eval()
    {
        var run = TrainTinyRun();
        var r = CliRunner.Run("sample", "--model", run, "--ema", "--sampler", "ddim", "--steps", "2", "--count", "100",
            "--out", Path.Combine(_dir, "scored.png"), "--eval");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("FID-MNIST", r.StdOut);
        AssertBadInput(CliRunner.Run("sample", "--model", run, "--count", "50", "--eval", "--out", Path.Combine(_dir, "x.png")), "--eval");
    }

    [Theory]
    [InlineData("--sampler plms", "dpmpp-2m")]
    [InlineData("--class 3", "unconditional")]
    [InlineData("--guidance 3", "--class")]
    [InlineData("--eta 0.5 --sampler dpmpp-2m", "eta")]
    [InlineData("--count 0", "--count")]
    [InlineData("--spacing uniform", "--spacing")]
    [InlineData("--karras --sampler ddim", "--karras")]
    public void Should_reject_bad_sample_options(string options, string mention)
    {
        var run = TrainTinyRun();
        AssertBadInput(CliRunner.Run(["sample", "--model", run, .. options.Split(' '), "--out", Path.Combine(_dir, "x.png")]), mention);
    }

    [Fact]
    public void Should_refuse_to_train_over_an_existing_run()
    {
        var run = TrainTinyRun();
        var r = CliRunner.Run("train", "--steps", "2", "--out", run);
        AssertBadInput(r, "--resume");
        Assert.True(File.Exists(Path.Combine(run, "unet", "diffusion_pytorch_model.safetensors")));
    }

    [Theory]
    [InlineData("--steps", "0", "--steps")]
    [InlineData("--data", "no-such-folder", "no-such-folder")]
    public void Should_reject_bad_train_options_before_writing_anything(string option, string value, string mention)
    {
        var outDir = Path.Combine(_dir, "new-run");
        AssertBadInput(CliRunner.Run("train", option, value, "--out", outDir), mention);
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any(), "nothing may be written on bad input");
    }

    [Fact]
    public void Should_train_then_resume_to_the_runs_own_step_target()
    {
        // Given a 3-step CLI run on 32 digits with a tiny model
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 32);
        var config = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(config, TinyData.TinyUNet().ToJson());
        var run = Path.Combine(_dir, "cli-run");
        var first = CliRunner.Run("train", "--data", images, "--labels", labels, "--model", config, "--steps", "3", "--batch", "8",
            "--checkpoint-every", "2", "--sample-count", "4", "--sample-steps", "2", "--threads", "1", "--out", run);
        Assert.True(first.ExitCode == 0, first.StdErr);
        Assert.True(File.Exists(Path.Combine(run, "samples", "step-0000003.png")));
        Assert.True(File.Exists(Path.Combine(run, "samples", "reverse-process.png")));
        Assert.True(File.Exists(Path.Combine(run, "loss.png")));

        // When it is resumed without --steps, it keeps its target of 3 (nothing left to do); with --steps 5 it goes on
        var again = CliRunner.Run("train", "--resume", "--out", run, "--threads", "1", "--sample-steps", "2");
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Equal(3, LossLog.Read(Path.Combine(run, "loss.csv")).Count);
        var more = CliRunner.Run("train", "--resume", "--out", run, "--steps", "5", "--threads", "1", "--eval-every", "5", "--eval-count", "100");
        Assert.True(more.ExitCode == 0, more.StdErr);
        Assert.Equal([1, 2, 3, 4, 5], LossLog.Read(Path.Combine(run, "loss.csv")).Select(r => r.Step).ToArray());
        Assert.Contains("eval at step 5: FID-MNIST", more.StdOut);
        var evalRows = File.ReadAllLines(Path.Combine(run, "eval.csv"));
        Assert.Equal(2, evalRows.Length);
        Assert.StartsWith("5,100,", evalRows[1]);
    }

    [Fact]
    public void Should_draw_one_column_per_class_in_the_sample_grid_of_a_class_conditional_run()
    {
        // Given a 2-step class-conditional run asked for a 4-image grid
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 32);
        var config = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(config, TinyData.TinyUNet().ToJson());
        var run = Path.Combine(_dir, "cond-run");
        var result = CliRunner.Run("train", "--data", images, "--labels", labels, "--model", config, "--class-conditional", "--steps", "2",
            "--batch", "8", "--checkpoint-every", "0", "--sample-count", "4", "--sample-steps", "1", "--threads", "1", "--out", run);
        Assert.True(result.ExitCode == 0, result.StdErr);

        // Then the grid holds every class once: 4 rounded up to the 10 digits, in one row of 10 columns
        Assert.Contains("(10 samples, DDIM 1 steps", result.StdOut);
        var (width, height) = PngSize(Path.Combine(run, "samples", "step-0000002.png"));
        Assert.InRange((double)width / height, 9.0, 10.0); // 10 cells and 11 gaps across, 1 cell and 2 gaps down
    }

    private string TrainTinyRun()
    {
        var root = Path.Combine(_dir, "run");
        if (Directory.Exists(root)) return root;
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 32);
        var spec = new DataSpec(images, Labels: labels);
        var run = RunFolder.Create(root, overwrite: false);
        using var trainer = Trainer.Start(run, new UNet2DModel(TinyData.TinyUNet()), spec.Open(28), spec, new NoiseScheduleConfig(),
            new TrainingOptions { Steps = 2, BatchSize = 8, CheckpointEvery = 0 });
        trainer.Train();
        return root;
    }
}
