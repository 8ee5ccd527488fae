using System.Globalization;
using DiffusionSharp.Models;
using DiffusionSharp.Training;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>A tiny MNIST training run for the process-level tests: a 40k-parameter U-Net, one thread, batch 8.</summary>
internal static class TinyRun
{
    /// <summary>block_out_channels [8, 16], one resnet per block, no attention, GroupNorm(4), 28 x 28 x 1.</summary>
    public const string ConfigJson = """
        {
          "_class_name": "UNet2DModel",
          "sample_size": 28,
          "in_channels": 1,
          "out_channels": 1,
          "block_out_channels": [8, 16],
          "layers_per_block": 1,
          "down_block_types": ["DownBlock2D", "DownBlock2D"],
          "up_block_types": ["UpBlock2D", "UpBlock2D"],
          "norm_num_groups": 4,
          "attention_head_dim": null,
          "add_attention": false
        }
        """;

    public const int CheckpointEvery = 2;
    public const int Keep = 3;

    /// <summary>Writes the tiny config.json into <paramref name="dir"/> and returns its path.</summary>
    public static string WriteConfig(string dir)
    {
        var path = Path.Combine(dir, "tiny-config.json");
        File.WriteAllText(path, ConfigJson);
        return path;
    }

    /// <summary>Arguments of a new run; <c>--sample-count 1 --sample-steps 1</c> keeps the final sample grid cheap.</summary>
    public static string[] NewRun(string config, string outDir, int steps, params string[] extra) =>
    [
        "train", "--data", "mnist", "--model", config, "--steps", Str(steps), "--batch", "8", "--out", outDir,
        "--checkpoint-every", Str(CheckpointEvery), "--keep", Str(Keep), "--threads", "1", "--warmup", "5",
        "--sample-count", "1", "--sample-steps", "1", .. extra,
    ];

    /// <summary>Arguments that continue the run in <paramref name="outDir"/>.</summary>
    public static string[] Resume(string outDir, int steps) =>
        ["train", "--resume", "--out", outDir, "--steps", Str(steps), "--threads", "1", "--sample-count", "1", "--sample-steps", "1"];

    /// <summary>Complete checkpoints (step, folder), oldest first.</summary>
    public static IReadOnlyList<(int Step, string Path)> Checkpoints(string runDir)
    {
        var state = Path.Combine(runDir, "training_state");
        if (!Directory.Exists(state)) return [];
        return Directory.GetDirectories(state, "step-*")
            .Where(d => File.Exists(Path.Combine(d, "state.json")))
            .Select(d => (int.Parse(Path.GetFileName(d)["step-".Length..], CultureInfo.InvariantCulture), d))
            .OrderBy(x => x.Item1).ToList();
    }

    /// <summary>Loads a checkpoint's unet and unet_ema with the strict loader and checks every weight is finite.</summary>
    public static void AssertLoadsAndFinite(string checkpoint)
    {
        foreach (var sub in new[] { "unet", "unet_ema" })
        {
            using var model = UNet2DModel.FromPretrained(Path.Combine(checkpoint, sub));
            using var scope = NewDisposeScope();
            foreach (var (name, p) in model.named_parameters())
                Assert.True(p.isfinite().all().item<bool>(), $"{checkpoint}/{sub}: {name} holds a non-finite value");
        }
    }

    /// <summary>Temporary folders and files a crash may leave (<c>.tmp-*</c> folders, <c>.NAME.XXXX.tmp</c> files).</summary>
    public static IReadOnlyList<string> StrayTemporaries(string runDir) =>
        Directory.EnumerateFileSystemEntries(runDir, "*", SearchOption.AllDirectories)
            .Where(p => Path.GetFileName(p) is var n && (n.StartsWith(".tmp-", StringComparison.Ordinal) || n.EndsWith(".tmp", StringComparison.Ordinal)))
            .ToList();

    /// <summary>The steps of loss.csv's rows (through the library's tolerant reader).</summary>
    public static IReadOnlyList<int> LossSteps(string runDir) =>
        LossLog.Read(Path.Combine(runDir, "loss.csv")).Select(r => r.Step).ToList();

    public static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);
}
