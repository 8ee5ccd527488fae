using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>
/// Non-finite values injected through the data (NaN pixels in chosen batches) must never reach the weights or a
/// checkpoint: the step is skipped and counted, and --max-bad-steps bad steps in a row stop training with the last good
/// checkpoint intact. No seam in the Trainer is needed: the dataset is the injection point.
/// </summary>
public sealed class NumericalFaultTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>16 smooth 8 x 8 gray images; batch number b (0-based, counted across FillBatch calls) gets NaN pixels when <c>poison(b)</c>.</summary>
    private sealed class PoisonedImages(Func<int, bool> poison) : IImageDataset
    {
        private int _batches;

        public int Count => 16;
        public int Channels => 1;
        public int Height => 8;
        public int Width => 8;
        public int NumClasses => 0;
        public IReadOnlyList<string> ClassNames => [];

        public void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels)
        {
            for (int b = 0; b < indices.Length; b++)
                for (int p = 0; p < 64; p++)
                    images[b * 64 + p] = MathF.Sin(indices[b] + p * 0.1f);
            if (poison(_batches++)) images[3] = float.NaN;
        }
    }

    private static readonly UNet2DConfig Tiny = UNet2DConfig.FromJson(TinyRun.ConfigJson) with { SampleSize = 8 };

    private Trainer Start(string name, IImageDataset data, int maxBadSteps, int steps = 30)
    {
        var run = RunFolder.Create(Path.Combine(_dir, name), overwrite: false);
        var options = new TrainingOptions
        {
            Steps = steps, BatchSize = 4, WarmupSteps = 0, CheckpointEvery = 2, KeepCheckpoints = 3, MaxBadSteps = maxBadSteps,
        };
        return Trainer.Start(run, new UNet2DModel(Tiny), data, new DataSpec("unused"), new NoiseScheduleConfig(NumTrainTimesteps: 100), options);
    }

    [Fact]
    public void Should_SkipAndCountBadSteps_When_SomeBatchesHoldNaN()
    {
        // Batches 3, 4 and 7 (steps 4, 5, 8) are poisoned; no streak reaches 3.
        using var trainer = Start("skip", new PoisonedImages(b => b is 3 or 4 or 7), maxBadSteps: 3, steps: 10);
        var outcome = trainer.Train();

        Assert.Equal(StopReason.Finished, outcome.Reason);
        Assert.Equal(3, outcome.SkippedSteps);
        AssertFinite(trainer.Model);
        AssertFinite(trainer.EmaModel);
        foreach (var (_, path) in trainer.Run.Checkpoints()) TinyRun.AssertLoadsAndFinite(path);
        // The checkpoint at step 4 would follow a bad step: it is not written, and the run's state counts the skips.
        Assert.DoesNotContain(4, trainer.Run.Checkpoints().Select(c => c.Step));
        Assert.Contains("\"skipped_steps\": 3", File.ReadAllText(Path.Combine(trainer.Run.LatestCheckpoint()!, "state.json")), StringComparison.Ordinal);
        var nanRows = LossLog.Read(trainer.Run.LossCsvPath).Where(r => double.IsNaN(r.Loss)).Select(r => r.Step);
        Assert.Equal([4, 5, 8], nanRows);
    }

    [Fact]
    public void Should_LeaveWeightsUntouched_When_AStepIsBad()
    {
        using var trainer = Start("untouched", new PoisonedImages(_ => true), maxBadSteps: 2);
        var before = trainer.Model.Module.parameters().Select(p => p.detach().clone()).ToList();
        var outcome = trainer.Train();

        Assert.Equal(StopReason.TooManyBadSteps, outcome.Reason);
        Assert.Equal(2, outcome.SkippedSteps);
        foreach (var (a, b) in before.Zip(trainer.Model.Module.parameters())) Assert.True((a == b).all().item<bool>(), "a skipped step changed a weight");
        Assert.Empty(trainer.Run.Checkpoints());
    }

    [Fact]
    public void Should_StopWithLastGoodCheckpointIntact_When_MaxBadStepsInARow()
    {
        // Steps 1-9 are good; from step 10 on every batch is NaN.
        using var trainer = Start("stop", new PoisonedImages(b => b >= 9), maxBadSteps: 3);
        var outcome = trainer.Train();

        Assert.Equal(StopReason.TooManyBadSteps, outcome.Reason);
        Assert.Equal(3, outcome.SkippedSteps);
        var checkpoints = trainer.Run.Checkpoints();
        Assert.Equal(8, checkpoints[^1].Step);
        foreach (var (_, path) in checkpoints) TinyRun.AssertLoadsAndFinite(path);
        AssertFinite(trainer.Model);
        Assert.Contains("\"step\": 8", File.ReadAllText(Path.Combine(checkpoints[^1].Path, "state.json")), StringComparison.Ordinal);
    }

    private static void AssertFinite(IDenoiser model)
    {
        using var scope = NewDisposeScope();
        foreach (var (name, p) in model.Module.named_parameters()) Assert.True(p.isfinite().all().item<bool>(), $"{name} is not finite");
    }
}
