using DiffusionSharp.Conditioning;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Noising;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Training;

[Collection(TorchGlobalState.Name)]
public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (DataSpec Spec, IImageDataset Data) Digits(int count = 64)
    {
        var (images, labels) = TinyData.WriteMnistSubset(_dir, count);
        var spec = new DataSpec(images, Labels: labels);
        return (spec, spec.Open(28));
    }

    private static TrainingOptions Options(int steps) => new()
    {
        Steps = steps,
        BatchSize = 16,
        LearningRate = 2e-3,
        WarmupSteps = 2,
        Decay = LearningRateDecay.Constant,
        CheckpointEvery = 4,
        Seed = 7,
    };

    private Trainer Start(string name, int steps, TrainingOptions? options = null)
    {
        var (spec, data) = Digits();
        var run = RunFolder.Create(Path.Combine(_dir, name), overwrite: false);
        torch.random.manual_seed(0);
        return Trainer.Start(run, new UNet2DModel(TinyData.TinyUNet()), data, spec, new NoiseScheduleConfig(), options ?? Options(steps));
    }

    [Fact]
    public void Should_lower_the_loss_on_a_fixed_batch_after_a_few_steps()
    {
        // Given a tiny model and a fixed batch with fixed timesteps and noise
        using var trainer = Start("overfit", 40);
        var (spec, data) = Digits();
        var loader = new BatchLoader(data, 16, seed: 1);
        using var batch = loader.Next();
        using var forward = new ForwardProcess(NoiseSchedule.Create(new NoiseScheduleConfig()));
        using var g = new Generator(3);
        using var t = torch.randint(0, 1000, [16], dtype: ScalarType.Int64, generator: g);
        using var noise = torch.randn(batch.Samples.shape, generator: g);
        using var xt = forward.AddNoise(batch.Samples, noise, t);
        double Loss()
        {
            using var _ = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            return torch.nn.functional.mse_loss(trainer.Model.Forward(xt, t, Condition.None(16)), noise).item<float>();
        }
        double before = Loss();

        // When it trains for 40 steps on 64 digits
        var outcome = trainer.Train();

        // Then the denoising loss on that batch went down, and every step was finite
        double after = Loss();
        Assert.Equal(StopReason.Finished, outcome.Reason);
        Assert.Equal(0, outcome.SkippedSteps);
        Assert.True(after < 0.8 * before, $"loss on the fixed batch should fall: before {before}, after {after}");
        _ = spec;
    }

    [Fact]
    public void Should_continue_a_resumed_run_exactly_like_an_uninterrupted_one()
    {
        // Given an uninterrupted 8-step run
        using (var full = Start("full", 8)) full.Train();
        var fullLosses = LossLog.Read(Path.Combine(_dir, "full", "loss.csv"));

        // And a run stopped after its step-4 checkpoint, then resumed to 8 steps
        using (var first = Start("resumed", 8))
        {
            using var cts = new CancellationTokenSource();
            first.CheckpointHook = (_, step) => { if (step == 4) cts.Cancel(); };
            Assert.Equal(StopReason.Cancelled, first.Train(cancellationToken: cts.Token).Reason);
        }
        using (var second = Trainer.Resume(RunFolder.Open(Path.Combine(_dir, "resumed"))))
        {
            Assert.Equal(4, second.Step);
            Assert.Equal(StopReason.Finished, second.Train().Reason);
        }

        // Then the loss curves are identical step for step, and so are the final weights
        var resumedLosses = LossLog.Read(Path.Combine(_dir, "resumed", "loss.csv"));
        Assert.Equal(8, fullLosses.Count);
        Assert.Equal(fullLosses, resumedLosses);
        using var a = UNet2DModel.FromPretrained(Path.Combine(_dir, "full", "unet_ema"));
        using var b = UNet2DModel.FromPretrained(Path.Combine(_dir, "resumed", "unet_ema"));
        var sa = a.state_dict();
        var sb = b.state_dict();
        foreach (var key in sa.Keys) Assert.True(sa[key].eq(sb[key]).all().item<bool>(), $"{key} differs after resume");
    }

    [Fact]
    public void Should_write_a_diffusers_pipeline_folder_whose_weights_reload_with_the_same_outputs()
    {
        // Given a library caller that only starts and trains a run (no CLI, nothing written by the test itself)
        using var trainer = Start("layout", 4);
        trainer.Train();
        var root = Path.Combine(_dir, "layout");

        // Then the folder is the whole diffusers layout
        foreach (var path in new[] { "model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
                     "unet_ema/config.json", "unet_ema/diffusion_pytorch_model.safetensors", "loss.csv" })
            Assert.True(File.Exists(Path.Combine(root, path)), $"{path} is missing");
        Assert.Single(Directory.GetDirectories(Path.Combine(root, "training_state"), "step-*"), d => d.EndsWith("step-0000004", StringComparison.Ordinal));
        var index = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(root, "model_index.json")))!;
        Assert.Equal("DDPMPipeline", index["_class_name"]!.GetValue<string>());
        Assert.Equal(["diffusers", "DDPMScheduler"], index["scheduler"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(["diffusers", "UNet2DModel"], index["unet"]!.AsArray().Select(n => n!.GetValue<string>()));
        var scheduler = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(root, "scheduler", "scheduler_config.json")))!;
        Assert.Equal("DDPMScheduler", scheduler["_class_name"]!.GetValue<string>());
        Assert.Equal("trailing", scheduler["timestep_spacing"]!.GetValue<string>());
        Assert.Equal("epsilon", scheduler["prediction_type"]!.GetValue<string>());
        using (var pipeline = DiffusionSharp.Pipelines.DiffusionPipeline.Load(root, useEma: true))
            Assert.Equal(1000, pipeline.Scheduler.Schedule!.NumTrainTimesteps);

        using var reloaded = UNet2DModel.FromPretrained(Path.Combine(root, "unet"));
        trainer.Model.Module.eval();
        using var _ = torch.no_grad();
        using var x = torch.randn(2, 1, 28, 28);
        using var t = torch.tensor(new long[] { 3, 900 });
        using var expected = trainer.Model.Forward(x, t, Condition.None(2));
        using var actual = reloaded.forward(x, t, null);
        Assert.True(expected.eq(actual).all().item<bool>(), "weights reloaded from unet/ must give identical outputs");
    }

    [Fact]
    public void Should_take_the_same_steps_with_micro_batches_as_with_the_whole_batch()
    {
        // Given two runs from the same seed, one accumulating gradients over micro-batches of 4 images
        using (var whole = Start("whole", 3)) whole.Train();
        using (var chunked = Start("chunked", 3, Options(3) with { MicroBatchSize = 4 })) chunked.Train();

        // Then every step's loss agrees to float rounding, and so do the trained networks' outputs. (Single weights are not
        // compared: a bias whose true gradient is 0, such as an attention key bias, gets float-noise gradients that
        // Adam's normalisation turns into visible but meaningless differences.)
        var a = LossLog.Read(Path.Combine(_dir, "whole", "loss.csv"));
        var b = LossLog.Read(Path.Combine(_dir, "chunked", "loss.csv"));
        Assert.Equal(3, a.Count);
        for (int i = 0; i < a.Count; i++) Assert.Equal(a[i].Loss, b[i].Loss, 1e-5);
        using var ma = UNet2DModel.FromPretrained(Path.Combine(_dir, "whole", "unet"));
        using var mb = UNet2DModel.FromPretrained(Path.Combine(_dir, "chunked", "unet"));
        using var _ = torch.no_grad();
        using var x = torch.randn(4, 1, 28, 28, generator: new Generator(11));
        using var t = torch.tensor(new long[] { 10, 300, 600, 990 });
        using var ya = ma.forward(x, t, null);
        using var yb = mb.forward(x, t, null);
        double diff = (ya - yb).abs().max().item<float>();
        Assert.True(diff < 1e-3, $"outputs differ by {diff} between whole-batch and micro-batch training");
    }

    [Fact]
    public void Should_keep_only_the_newest_checkpoints()
    {
        using var trainer = Start("keep", 12, Options(12) with { CheckpointEvery = 2, KeepCheckpoints = 2 });
        trainer.Train();
        var steps = Directory.GetDirectories(Path.Combine(_dir, "keep", "training_state")).Select(d => Path.GetFileName(d)!).Order().ToArray();
        Assert.Equal(["step-0000010", "step-0000012"], steps);
    }

    [Fact]
    public void Should_refuse_to_overwrite_a_run_without_overwrite_and_to_resume_a_non_run()
    {
        using (var trainer = Start("taken", 2)) trainer.Train();
        var e = Assert.Throws<InvalidInputException>(() => RunFolder.Create(Path.Combine(_dir, "taken"), overwrite: false));
        Assert.Equal(RunFolder.RootProperty, e.Property);
        Assert.Contains("already holds a training run", e.Message);

        Directory.CreateDirectory(Path.Combine(_dir, "not-a-run"));
        File.WriteAllText(Path.Combine(_dir, "not-a-run", "notes.txt"), "mine");
        var resume = Assert.Throws<InvalidInputException>(() => RunFolder.Open(Path.Combine(_dir, "not-a-run")));
        Assert.Contains("not a training run", resume.Message);
        var create = Assert.Throws<InvalidInputException>(() => RunFolder.Create(Path.Combine(_dir, "not-a-run"), overwrite: true));
        Assert.Contains("not a training run", create.Message);
        Assert.True(File.Exists(Path.Combine(_dir, "not-a-run", "notes.txt")), "a user's folder must never be deleted");
    }

    [Fact]
    public void Should_reject_a_model_whose_channels_differ_from_the_data()
    {
        var (spec, data) = Digits();
        var run = RunFolder.Create(Path.Combine(_dir, "rgb"), overwrite: false);
        var rgb = TinyData.TinyUNet() with { InChannels = 3, OutChannels = 3 };
        var e = Assert.Throws<InvalidInputException>(() => Trainer.Start(run, new UNet2DModel(rgb), data, spec, new NoiseScheduleConfig(), Options(2)));
        Assert.Contains("in_channels 3", e.Message);
        Assert.Contains("1 channel", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Should_reject_bad_step_counts_naming_the_property(int steps)
    {
        var e = Assert.Throws<InvalidInputException>(() => Options(steps).Validate());
        Assert.Equal("TrainingOptions.Steps", e.Property);
        Assert.StartsWith($"Steps must be at least 1 (got {steps})", e.Message);
    }

    [Fact]
    public void Should_ramp_the_learning_rate_and_decay_it_along_a_cosine()
    {
        Assert.Equal(1e-4, LearningRateSchedule.At(0, 100, 1e-3, 10, LearningRateDecay.Cosine), 12);
        Assert.Equal(1e-3, LearningRateSchedule.At(9, 100, 1e-3, 10, LearningRateDecay.Cosine), 12);
        Assert.Equal(0.5e-3, LearningRateSchedule.At(55, 100, 1e-3, 10, LearningRateDecay.Cosine), 12);
        Assert.Equal(1e-3, LearningRateSchedule.At(55, 100, 1e-3, 10, LearningRateDecay.Constant), 12);
    }
}
