using DiffusionSharp.Data;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Training;

/// <summary>The VAE trainer: it learns, it publishes a loadable vae/ with the measured scale, and an interrupted run resumes exactly.</summary>
public sealed class VaeTrainerTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DataSpec Data() => new(TinyVae.WriteImages(Path.Combine(_dir, "images"), 12), 16);

    private static VaeTrainingOptions Options(int steps) => new()
    {
        Steps = steps,
        BatchSize = 4,
        LearningRate = 2e-3,
        HeldOut = 3,
        CheckpointEvery = 0,
        Seed = 7,
        EmaDecay = 0.9,
    };

    /// <summary>A fresh model with the same initial weights as <paramref name="like"/> (the global generator is not ours to seed here).</summary>
    private static AutoencoderKL Copy(AutoencoderKL like)
    {
        var model = new AutoencoderKL(like.Config);
        using (no_grad()) model.load_state_dict(like.state_dict());
        return model;
    }

    [Fact]
    public void Should_LowerLossAndRaisePsnr_When_TrainedAFewStepsOnAHandfulOfImages()
    {
        var spec = Data();
        var run = RunFolder.Create(Path.Combine(_dir, "run"), overwrite: false);
        using var trainer = VaeTrainer.Start(run, new AutoencoderKL(TinyVae.Config()), spec.Open(16), spec, Options(30));
        var before = trainer.Evaluate();
        var outcome = trainer.Train();
        var after = trainer.Finish();

        Assert.Equal(StopReason.Finished, outcome.Reason);
        Assert.Equal((9, 3), (trainer.TrainCount, trainer.HeldOutCount));
        var losses = LossLog.Read(run.LossCsvPath).Select(r => r.Loss).ToList();
        Assert.Equal(30, losses.Count);
        Assert.True(losses.TakeLast(5).Average() < 0.7 * losses.Take(5).Average(), $"loss {losses.Take(5).Average()} -> {losses.TakeLast(5).Average()}");
        Assert.True(after.PsnrDb > before.PsnrDb + 1.0, $"held-out PSNR {before.PsnrDb:F2} -> {after.PsnrDb:F2} dB");

        // vae/ is a diffusers folder the loader reads, with LDM's scale 1/std(z) and the EMA weights.
        using var loaded = AutoencoderLoader.FromPretrained(trainer.VaeDir);
        var kl = Assert.IsType<AutoencoderKL>(loaded);
        Assert.Equal(after.ScalingFactor, kl.Config.ScalingFactor, 6);
        Assert.NotEqual(1.0, kl.Config.ScalingFactor);
        using (no_grad())
            foreach (var (name, value) in trainer.EmaModel.state_dict())
                Assert.True(value.equal(kl.state_dict()[name]).all().item<bool>(), name);
        Assert.True(File.Exists(Path.Combine(run.Root, VaeTrainer.ImageFileName)));
        Assert.Contains("\"psnr_db\"", File.ReadAllText(Path.Combine(run.Root, VaeTrainer.ReportFileName)));
    }

    [Fact]
    public void Should_EndWithIdenticalWeights_When_InterruptedHalfwayAndResumed()
    {
        var spec = Data();
        using var init = new AutoencoderKL(TinyVae.Config());

        var straightRun = RunFolder.Create(Path.Combine(_dir, "straight"), overwrite: false);
        using var straight = VaeTrainer.Start(straightRun, Copy(init), spec.Open(16), spec, Options(6));
        straight.Train();

        // Interrupted after 3 of 6 steps (as Ctrl+C does), then resumed in a new trainer from the checkpoint alone.
        var splitRun = RunFolder.Create(Path.Combine(_dir, "split"), overwrite: false);
        using (var first = VaeTrainer.Start(splitRun, Copy(init), spec.Open(16), spec, Options(6)))
        {
            using var cancel = new CancellationTokenSource();
            var outcome = first.Train(new SyncProgress(p => { if (p.Step == 3) cancel.Cancel(); }), cancel.Token);
            Assert.Equal((StopReason.Cancelled, 3), (outcome.Reason, outcome.Step));
        }
        using var resumed = VaeTrainer.Resume(RunFolder.Open(splitRun.Root));
        Assert.Equal(3, resumed.Step);
        resumed.Train();

        Assert.Equal(6, resumed.Step);
        using (no_grad())
        {
            foreach (var (a, b) in new[] { (straight.Model, resumed.Model), (straight.EmaModel, resumed.EmaModel) })
            {
                var expected = a.state_dict();
                foreach (var (name, value) in b.state_dict())
                    Assert.True(value.equal(expected[name]).all().item<bool>(), name);
            }
        }
        Assert.Equal(LossLog.Read(straightRun.LossCsvPath), LossLog.Read(splitRun.LossCsvPath));
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
