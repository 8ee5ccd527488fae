using System.Text.Json.Nodes;
using DiffusionSharp.Conditioning;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Training;

/// <summary>The loop's seams: another network and rank, the process role, the gradients-ready point, and no leaks.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class TrainingSeamsTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TrainingOptions Options(int steps) => new()
    {
        Steps = steps,
        BatchSize = 8,
        LearningRate = 1e-2,
        WarmupSteps = 0,
        Decay = LearningRateDecay.Constant,
        CheckpointEvery = 0,
        Seed = 3,
    };

    [Fact]
    public void Should_train_a_1d_network_of_another_class_through_the_same_loop()
    {
        // Given a 1-D network (not a UNet2DModel) and 1-D samples [2, 16]
        torch.random.manual_seed(0);
        using var network = new TinyConv1d(new TinyConv1dConfig(2, 16));
        var before = network.parameters().Select(p => p.detach().clone()).ToList();
        var run = RunFolder.Create(Path.Combine(_dir, "waves"), overwrite: false);

        // When the unchanged trainer trains it for 6 steps
        using (var trainer = Trainer.Start(run, network, new Waves(40), new DataSpec("waves"), new NoiseScheduleConfig(), Options(6)))
        {
            Assert.Equal(StopReason.Finished, trainer.Train().Reason);
        }

        // Then every step was finite, the weights moved, and the folder names the network's class
        var losses = LossLog.Read(run.LossCsvPath);
        Assert.Equal(6, losses.Count);
        Assert.All(losses, r => Assert.True(double.IsFinite(r.Loss)));
        Assert.Contains(before.Zip(network.parameters()), pair => !pair.First.allclose(pair.Second, 0, 0));
        var index = JsonNode.Parse(File.ReadAllText(run.ModelIndexPath))!;
        Assert.Equal("TinyConv1d", index["unet"]![1]!.GetValue<string>());
        Assert.Contains("TinyConv1d", File.ReadAllText(Path.Combine(run.UnetDir, "config.json")));
    }

    [Fact]
    public void Should_train_with_a_continuous_time_objective_through_the_same_loop()
    {
        // Given a rectified-flow objective (float t in [0, 1), x_t = (1 - t) x_0 + t eps, target eps - x_0) that scales
        // the network's time input in its Predict, and the 1-D network
        torch.random.manual_seed(0);
        using var network = new TinyConv1d(new TinyConv1dConfig(2, 16));
        var flow = new RectifiedFlow();
        var run = RunFolder.Create(Path.Combine(_dir, "flow"), overwrite: false);
        var seams = TrainingSeams.Default with { Formulation = (_, _) => flow };

        // When the unchanged trainer trains it for 5 steps
        using (var trainer = Trainer.Start(run, network, new Waves(40), new DataSpec("waves"), new NoiseScheduleConfig(), Options(5), seams))
        {
            Assert.Same(flow, trainer.Formulation);
            Assert.Equal(StopReason.Finished, trainer.Train().Reason);
        }

        // Then the network saw float times scaled to [0, 1000), and every step was finite
        Assert.Equal(ScalarType.Float32, flow.TimestepType);
        Assert.InRange(flow.LargestTimestep, 0, 1000);
        Assert.All(LossLog.Read(run.LossCsvPath), r => Assert.True(double.IsFinite(r.Loss)));
    }

    /// <summary>Rectified flow (Liu et al. 2022): a continuous-time objective behind the same seam as DDPM's.</summary>
    private sealed class RectifiedFlow : IFormulation
    {
        public ScalarType? TimestepType { get; private set; }
        public double LargestTimestep { get; private set; }
        public FormulationKind Kind => FormulationKind.Ddpm;   // no sampler of its own yet: the test does not sample
        public PredictionType PredictionType => PredictionType.Epsilon;
        public Tensor DrawNoiseLevels(long batchSize, Generator generator) => torch.rand([batchSize], generator: generator);
        public Tensor AddNoise(Tensor x0, Tensor noise, Tensor levels) => (1 - Broadcast(levels, x0)) * x0 + Broadcast(levels, x0) * noise;
        public Tensor Target(Tensor x0, Tensor noise, Tensor levels) => noise - x0;

        public Tensor Predict(IDenoiser network, Tensor xt, Tensor levels, Condition condition)
        {
            using var timestep = levels * 1000;
            TimestepType = timestep.dtype;
            LargestTimestep = Math.Max(LargestTimestep, timestep.max().item<float>());
            return network.Forward(xt, timestep, condition);
        }

        public Tensor Loss(Tensor prediction, Tensor target, Tensor levels) => torch.nn.functional.mse_loss(prediction, target);
        public (string ClassName, string ConfigJson) PipelineScheduler() => ("FlowMatchEulerDiscreteScheduler", "{}");
        public void Dispose() { }

        private static Tensor Broadcast(Tensor levels, Tensor like) => levels.view([levels.shape[0], .. Enumerable.Repeat(1L, (int)like.dim() - 1)]);
    }

    [Fact]
    public void Should_call_the_reducer_once_per_step_and_write_nothing_from_a_process_that_is_not_the_writer()
    {
        // Given rank 1 of 2 with a reducer that counts its calls and sees every parameter's gradient
        var reducer = new CountingReducer();
        torch.random.manual_seed(0);
        using var network = new TinyConv1d(new TinyConv1dConfig(2, 16));
        var run = RunFolder.Create(Path.Combine(_dir, "rank1"), overwrite: false);
        var seams = new TrainingSeams(new ProcessRole(1, 2), reducer);
        using (var trainer = Trainer.Start(run, network, new Waves(40), new DataSpec("waves"), new NoiseScheduleConfig(),
            Options(4) with { CheckpointEvery = 2 }, seams))
        {
            Assert.Equal(StopReason.Finished, trainer.Train().Reason);
        }

        // Then the reducer ran at every step with gradients ready, and the run folder holds no file
        Assert.Equal(4, reducer.Calls);
        Assert.Equal(network.parameters().Count(), reducer.Parameters);
        Assert.Empty(Directory.EnumerateFiles(run.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Should_train_two_shards_with_averaged_gradients_exactly_like_one_process_on_the_whole_batch()
    {
        // Given the same digits, seed and initial weights for one process with batch 16 and for ranks 0 and 1 of 2, whose
        // reducer averages the gradients and the loss (an all-reduce between two threads)
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 64);
        var spec = new DataSpec(images, Labels: labels);
        var options = Options(4) with { BatchSize = 16, LearningRate = 2e-3 };
        UNet2DModel Fresh()
        {
            torch.random.manual_seed(0);
            return new UNet2DModel(TinyData.TinyUNet());
        }
        using var single = Fresh();
        using (var trainer = Trainer.Start(RunFolder.Create(Path.Combine(_dir, "single"), false), single, spec.Open(28), spec, new NoiseScheduleConfig(), options))
            trainer.Train();
        var group = new InProcessAllReduce(2);
        var models = new[] { Fresh(), Fresh() };
        var trainers = Enumerable.Range(0, 2).Select(r => Trainer.Start(RunFolder.Create(Path.Combine(_dir, $"rank{r}"), false), models[r], spec.Open(28),
            spec, new NoiseScheduleConfig(), options, new TrainingSeams(new ProcessRole(r, 2), group.Member(r)))).ToArray();

        // When both ranks train 4 steps at once
        var outcomes = new TrainingOutcome[2];
        var threads = Enumerable.Range(0, 2).Select(r => new Thread(() => outcomes[r] = trainers[r].Train())).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        foreach (var t in trainers) t.Dispose();

        // Then rank 0's loss curve is the single process's, and the networks agree to float rounding
        Assert.All(outcomes, o => Assert.Equal(StopReason.Finished, o.Reason));
        var expected = LossLog.Read(Path.Combine(_dir, "single", "loss.csv"));
        var actual = LossLog.Read(Path.Combine(_dir, "rank0", "loss.csv"));
        Assert.Equal(4, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Loss, actual[i].Loss, 1e-5);
        Assert.False(File.Exists(Path.Combine(_dir, "rank1", "loss.csv")), "rank 1 wrote the loss log");
        using var noGrad = torch.no_grad();
        using var x = torch.randn(4, 1, 28, 28, generator: new Generator(11));
        using var t4 = torch.tensor(new long[] { 10, 300, 600, 990 });
        using var none = Condition.None(4);
        using var ya = single.Forward(x, t4, none);
        foreach (var model in models)
        {
            using var yb = model.Forward(x, t4, none);
            double diff = (ya - yb).abs().max().item<float>();
            Assert.True(diff < 1e-3, $"outputs differ by {diff} between one process and two shards");
            model.Dispose();
        }
    }

    /// <summary>An all-reduce (mean) between threads of one process, as MPI would do it between processes.</summary>
    private sealed class InProcessAllReduce(int ranks)
    {
        private readonly Barrier _barrier = new(ranks);
        private readonly Tensor?[][] _gradients = new Tensor?[ranks][];
        private readonly double[] _losses = new double[ranks];
        private readonly int _ranks = ranks;

        public IGradientReducer Member(int rank) => new Rank(this, rank);

        private void Wait()
        {
            if (!_barrier.SignalAndWait(TimeSpan.FromSeconds(120))) throw new TimeoutException("a rank did not reach the all-reduce");
        }

        private sealed class Rank(InProcessAllReduce group, int rank) : IGradientReducer
        {
            public void GradientsReady(IReadOnlyList<Parameter> parameters)
            {
                group._gradients[rank] = parameters.Select(p => p.grad?.clone()).ToArray();
                group.Wait();
                using (torch.no_grad())
                {
                    for (int i = 0; i < parameters.Count; i++)
                    {
                        if (parameters[i].grad is not { } grad) continue;
                        var sum = group._gradients[0][i]!.clone();
                        for (int r = 1; r < group._ranks; r++) sum.add_(group._gradients[r][i]!);
                        grad.copy_(sum / group._ranks);
                    }
                }
                group.Wait();
            }

            public double ReduceLoss(double loss)
            {
                group._losses[rank] = loss;
                group.Wait();
                double mean = group._losses.Sum() / group._ranks;
                group.Wait();
                return mean;
            }
        }
    }

    [Fact]
    public void Should_leave_no_tensor_behind_from_one_step_to_the_next()
    {
        // Given a class-conditional U-Net trained with micro-batches and label dropping
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 32);
        var spec = new DataSpec(images, Labels: labels);
        torch.random.manual_seed(0);
        using var model = new UNet2DModel(TinyData.TinyUNet(numClassEmbeds: 11));
        var run = RunFolder.Create(Path.Combine(_dir, "leak"), overwrite: false);
        using var trainer = Trainer.Start(run, model, spec.Open(28), spec, new NoiseScheduleConfig(), Options(6) with { MicroBatchSize = 4, CondDrop = 0.5 });
        var live = new List<long>();
        trainer.StepHook = (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);

        // When it trains for 6 steps
        trainer.Train();

        // Then after the first step (which creates AdamW's moments) the live tensor count does not change
        Assert.Equal(6, live.Count);
        Assert.All(live.Skip(1), n => Assert.Equal(live[1], n));
    }

    [Fact]
    public void Should_refuse_cuda_in_one_line_when_the_backend_is_absent()
    {
        if (torch.cuda.is_available()) return;
        var e = Assert.Throws<InvalidInputException>(() => DiffusionSharp.Runtime.TorchRuntime.ResolveDevice("cuda"));
        Assert.Equal("TorchRuntime.device", e.Property);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(DeviceType.CPU, DiffusionSharp.Runtime.TorchRuntime.ResolveDevice("cpu").type);
    }

    private sealed class CountingReducer : IGradientReducer
    {
        public int Calls { get; private set; }
        public int Parameters { get; private set; }

        public void GradientsReady(IReadOnlyList<Parameter> parameters)
        {
            Calls++;
            Parameters = parameters.Count(p => p.grad is not null);
        }
    }
}
