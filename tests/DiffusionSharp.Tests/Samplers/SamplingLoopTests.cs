using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>Live-tensor counts are per thread but any test can disturb them, so these run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TensorCountCollection
{
    public const string Name = "Live tensor counts";
}

[Collection(TensorCountCollection.Name)]
public sealed class SamplingLoopTests
{
    private static readonly NoiseSchedule Linear = NoiseSchedule.Create(new NoiseScheduleConfig());

    [Theory]
    [InlineData("ddim", 1.0)]
    [InlineData("ddpm", 0.0)]
    public void Should_leave_no_tensor_alive_but_the_result(string sampler, double eta)
    {
        // Given a stochastic sampler in the loop, and the number of live tensors on this thread
        var scheduler = SchedulerFactory.Create(sampler, Linear.Config, eta: eta);
        var loop = new SamplingLoop(scheduler, GoldenScheduler.ToyModel);
        using var g = new Generator(31);
        var perStep = new List<long>();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        // When it runs 20 steps and we dispose the result
        var result = loop.Sample([2, 1, 8, 8], 20, g, step => perStep.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        long withResult = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        result.Dispose();

        // Then the count is back where it started, and it never grew past the first step's (DDPM's last step, t = 0, draws no noise and holds fewer)
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(before + 1, withResult);
        Assert.Equal(20, perStep.Count);
        Assert.All(perStep, count => Assert.InRange(count, before, perStep[0]));
    }

    [Fact]
    public void Should_report_every_step_in_order_and_return_the_last_sample()
    {
        var ddim = new DDIMScheduler(Linear, new DDIMSchedulerOptions { Clipping = SampleClipping.None });
        var steps = new List<(int Index, int Count, double T)>();
        float[]? last = null;
        using var g = new Generator(32);

        using var result = new SamplingLoop(ddim, GoldenScheduler.ToyModel).Sample([1, 1, 4, 4], 5, g, step =>
        {
            steps.Add((step.Index, step.Count, step.Timestep));
            Assert.NotNull(step.PredOriginalSample);
            last = step.Sample.data<float>().ToArray();
        });

        Assert.Equal([(0, 5, 800.0), (1, 5, 600.0), (2, 5, 400.0), (3, 5, 200.0), (4, 5, 0.0)], steps);
        Assert.Equal(last, result.data<float>().ToArray());
        Assert.False(is_inference_mode_enabled());
    }

    [Fact]
    public void Should_give_the_same_samples_for_the_same_seed()
    {
        var loop = new SamplingLoop(SchedulerFactory.Create("ddpm", Linear.Config), GoldenScheduler.ToyModel);

        float[] Run(ulong seed)
        {
            using var g = new Generator(seed);
            using var result = loop.Sample([2, 1, 4, 4], 10, g);
            return result.data<float>().ToArray();
        }

        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }
}
