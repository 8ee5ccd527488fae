using System.Text.Json.Nodes;
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

    /// <summary>1-D samples [2, 16]: a sine and a cosine of a frequency that depends on the index.</summary>
    private sealed class Waves(int count) : IDataset
    {
        public int Count => count;
        public IReadOnlyList<int> SampleShape => [2, 16];
        public int NumClasses => 0;
        public IReadOnlyList<string> ClassNames => [];

        public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
        {
            for (var b = 0; b < indices.Length; b++)
                for (var j = 0; j < 16; j++)
                {
                    double phase = (1 + indices[b] % 4) * j * Math.PI / 16;
                    samples[b * 32 + j] = (float)Math.Sin(phase);
                    samples[b * 32 + 16 + j] = (float)Math.Cos(phase);
                }
        }
    }
}
