using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Noising;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Pipelines;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Training;

/// <summary>Short training runs on tiny models: class-conditional MNIST, the v and x_0 objectives, min-SNR weighting.</summary>
public sealed class TrainingObjectiveTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TrainingOptions Quick(int steps, int batch) => QuickTraining.Options(steps, batch);

    [Fact]
    public void Should_train_a_class_conditional_model_on_64_digits_and_reload_it_with_its_classes()
    {
        // Given 64 MNIST digits and a tiny 28x28 model with 10 classes + the null class
        var data = new FirstImages(IdxDataset.Mnist(), 64);
        var config = TinyModels.Config(sampleSize: 28, numClassEmbeds: data.NumClasses + 1);
        var run = RunFolder.Create(Path.Combine(_dir, "run"), overwrite: false);
        random.manual_seed(2);
        var model = new UNet2DModel(config);

        // When it trains 3 steps of 16 with label dropping for guidance
        TrainingOutcome outcome;
        using (var trainer = Trainer.Start(run, model, data, new DataSpec(DataSpec.Mnist), new NoiseScheduleConfig(),
                   Quick(steps: 3, batch: 16) with { CondDrop = 0.2 }))
        {
            outcome = trainer.Train();
        }
        model.Dispose();

        // Then the run finishes, and its folder loads as a pipeline with num_class_embeds 11 (EMA weights too) that guides
        Assert.Equal(StopReason.Finished, outcome.Reason);
        Assert.Equal(3, outcome.Step);
        Assert.Equal(3, LossLog.Read(run.LossCsvPath).Count(r => double.IsFinite(r.Loss)));
        using var pipeline = DiffusionPipeline.Load(run.Root);
        using var ema = DiffusionPipeline.Load(run.Root, useEma: true);
        Assert.Equal(11, pipeline.Unet.Config.NumClassEmbeds);
        Assert.Equal(10, pipeline.NumClasses);
        Assert.Equal(10, ema.NumClasses);
        using var images = pipeline.Generate(2, 2, seed: 3, classLabels: [3, 7], guidance: 2.0);
        Assert.Equal([2L, 1, 28, 28], images.shape);
        Assert.True(images.isfinite().all().item<bool>());
    }

    [Theory]
    [InlineData(PredictionType.VPrediction, null)]
    [InlineData(PredictionType.Sample, null)]
    [InlineData(PredictionType.Epsilon, 5.0)]
    public void Should_lower_the_loss_of_its_objective_on_a_fixed_batch(PredictionType type, double? snrGamma)
    {
        // Given 8 fixed 8x8 images (one batch, the same every step) and a tiny model
        var data = new Stripes(8);
        var run = RunFolder.Create(Path.Combine(_dir, "run"), overwrite: false);
        random.manual_seed(4);
        using var model = new UNet2DModel(TinyModels.Config(sampleSize: 8));
        var schedule = new NoiseScheduleConfig();
        using var forward = new ForwardProcess(NoiseSchedule.Create(schedule));
        using var g = new Generator(5);
        using var x0 = data.All();
        using var t = randint(0, 1000, [8], dtype: ScalarType.Int64, generator: g);
        using var noise = randn(x0.shape, generator: g);
        using var target = forward.TrainingTarget(type, x0, noise, t);
        using var xt = forward.AddNoise(x0, noise, t);
        double Loss()
        {
            using var _ = no_grad();
            using var prediction = model.forward(xt, t, null);
            return nn.functional.mse_loss(prediction, target).item<float>();
        }
        double before = Loss();

        // When the trainer runs 15 steps on it with that prediction type
        using (var trainer = Trainer.Start(run, model, data, new DataSpec("stripes"), schedule,
                   Quick(steps: 15, batch: 8) with { PredictionType = type, SnrGamma = snrGamma, LearningRate = 3e-3 }))
        {
            Assert.Equal(StopReason.Finished, trainer.Train().Reason);
        }

        // Then the plain MSE against that target, at fixed timesteps and noise, has gone down
        double after = Loss();
        Assert.True(after < 0.9 * before, $"{type}: loss {before} -> {after}");
    }

    [Fact]
    public void Should_weight_by_min_snr_gamma_over_the_targets_own_snr_weight()
    {
        // Given SNRs below, at and above gamma = 5
        using var snr = tensor(new[] { 0.01f, 1f, 5f, 100f });
        double[] s = [0.01, 1, 5, 100];

        // When the weights are computed, then they are Hang et al.'s eq. 9 per target
        static double[] Values(Tensor w) => w.data<float>().ToArray().Select(v => (double)v).ToArray();
        using var eps = MinSnrWeighting.Weight(snr, 5, PredictionType.Epsilon);
        using var v = MinSnrWeighting.Weight(snr, 5, PredictionType.VPrediction);
        using var x0 = MinSnrWeighting.Weight(snr, 5, PredictionType.Sample);
        AssertClose(s.Select(x => Math.Min(x, 5) / x), Values(eps));
        AssertClose(s.Select(x => Math.Min(x, 5) / (x + 1)), Values(v));
        AssertClose(s.Select(x => Math.Min(x, 5)), Values(x0));
        AssertClose([1, 1, 1, 0.05], Values(eps));

        // And the trainer's SNR(t) is alpha_bar_t / (1 - alpha_bar_t)
        var schedule = NoiseSchedule.Create(new NoiseScheduleConfig());
        using var forward = new ForwardProcess(schedule);
        using var ts = tensor(new long[] { 0, 250, 999 });
        using var snrs = forward.Snr(ts);
        AssertClose(new[] { 0, 250, 999 }.Select(i => schedule.AlphaBar(i) / (1 - schedule.AlphaBar(i))), Values(snrs));
    }

    private static void AssertClose(IEnumerable<double> expected, double[] actual)
    {
        var e = expected.ToArray();
        Assert.Equal(e.Length, actual.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - actual[i]) <= 1e-5 * Math.Max(1, Math.Abs(e[i])), $"[{i}]: expected {e[i]}, got {actual[i]}");
    }

    /// <summary>The first <c>count</c> images of another dataset.</summary>
    private sealed class FirstImages(IImageDataset inner, int count) : IImageDataset
    {
        public int Count => count;
        public int Channels => inner.Channels;
        public int Height => inner.Height;
        public int Width => inner.Width;
        public int NumClasses => inner.NumClasses;
        public IReadOnlyList<string> ClassNames => inner.ClassNames;
        public void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels) => inner.FillBatch(indices, images, labels);
    }
}
