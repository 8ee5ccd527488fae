using System.Text.Json;
using DiffusionSharp.Cli;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;

namespace DiffusionSharp.Tests.Cli;

/// <summary>
/// <c>--checkpoint-activations</c> on <c>diffuse bench train</c> and <c>diffuse train</c>: accepted, reported in the
/// benchmark's JSON, the same training run as without it, nothing of it stored in the model's config, and refused with
/// exit 2 for a network that cannot recompute its activations.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class CheckpointActivationsCliTests : IDisposable
{
    private static readonly string[] Quick = ["--seconds", "0.01", "--windows", "2", "--warmup-steps", "0", "--ceiling", "10", "--json"];
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Should_report_checkpoint_activations_in_the_bench_train_json(bool checkpoint)
    {
        // Given bench train of the tiny preset at batch 4, with or without --checkpoint-activations
        string[] flag = checkpoint ? ["--checkpoint-activations"] : [];

        // When it runs with --json
        var (code, output, error) = InProcessCli.Run(["bench", "train", "--model", "mnist-tiny", "--batch", "4", .. flag, .. Quick]);

        // Then the JSON says which, beside a peak RSS, and no tensor is left alive over the windows
        Assert.True(code == DiffuseApp.Ok, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var doc = JsonDocument.Parse(lines[0]);
        var json = doc.RootElement;
        Assert.Equal(checkpoint, json.GetProperty("checkpoint_activations").GetBoolean());
        var memory = json.GetProperty("memory");
        Assert.True(memory.GetProperty("peak_rss_mib").GetDouble() > 0);
        Assert.Equal(memory.GetProperty("live_tensors_start").GetInt64(), memory.GetProperty("live_tensors_end").GetInt64());
    }

    [Fact]
    public void Should_train_at_a_given_sample_size_in_bench_train()
    {
        // Given the 32x32 colour preset asked to train at 16x16
        // When bench train runs with --json
        var (code, output, error) = InProcessCli.Run(["bench", "train", "--model", "emoji32-small", "--sample-size", "16", "--batch", "2", "--checkpoint-activations", .. Quick]);

        // Then it trained 3x16x16 images
        Assert.True(code == DiffuseApp.Ok, error);
        using var doc = JsonDocument.Parse(output.Trim());
        Assert.Equal([3, 16, 16], doc.RootElement.GetProperty("image_shape").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void Should_reject_a_sample_size_the_model_cannot_halve()
    {
        // Given a sample size that is not a multiple of emoji32-small's downsampling (4)
        // When bench train runs
        var (code, output, error) = InProcessCli.Run(["bench", "train", "--model", "emoji32-small", "--sample-size", "30", .. Quick]);

        // Then it exits 2 with one line naming the option
        Assert.Equal(DiffuseApp.BadInput, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("--sample-size 30", lines[0]);
        Assert.Empty(output);
    }

    [Fact]
    public void Should_train_the_same_run_with_checkpoint_activations_and_store_nothing_of_it()
    {
        // Given 32 digits and a tiny U-Net
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 32);
        var config = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(config, TinyData.TinyUNet().ToJson());
        string Train(string name, params string[] extra)
        {
            var run = Path.Combine(_dir, name);
            var r = CliRunner.Run(["train", "--data", images, "--labels", labels, "--model", config, "--steps", "3", "--batch", "8", "--warmup", "0",
                "--checkpoint-every", "0", "--sample-count", "4", "--sample-steps", "2", "--threads", "1", "--seed", "7", "--out", run, .. extra]);
            Assert.True(r.ExitCode == 0, r.StdErr);
            return run;
        }

        // When the same 3 steps run plain and with --checkpoint-activations
        var plain = Train("plain");
        var ckpt = Train("ckpt", "--checkpoint-activations");

        // Then every step's loss agrees to float reassociation (the updates are the same), and the saved config is the same
        var (a, b) = (LossLog.Read(Path.Combine(plain, "loss.csv")), LossLog.Read(Path.Combine(ckpt, "loss.csv")));
        Assert.Equal(3, a.Count);
        Assert.Equal(a.Select(r => r.Step), b.Select(r => r.Step));
        foreach (var (p, c) in a.Zip(b)) Assert.True(Math.Abs(p.Loss - c.Loss) <= 1e-4 * Math.Abs(p.Loss), $"step {p.Step}: {p.Loss} vs {c.Loss}");
        var plainConfig = File.ReadAllText(Path.Combine(plain, "unet", "config.json"));
        Assert.Equal(plainConfig, File.ReadAllText(Path.Combine(ckpt, "unet", "config.json")));
        Assert.DoesNotContain("checkpoint", plainConfig, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Should_refuse_checkpoint_activations_for_an_audio_model_before_writing_anything()
    {
        // Given the 1-D audio preset, which cannot recompute its activations
        var outDir = Path.Combine(_dir, "audio-run");

        // When train runs with --checkpoint-activations
        var r = CliRunner.Run("train", "--model", "audio-small", "--data", "spoken-digits", "--checkpoint-activations", "--steps", "1", "--out", outDir);

        // Then it exits 2 with one line naming the option, and writes no run
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("--checkpoint-activations", lines[0]);
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any(), "nothing may be written on bad input");
    }
}
