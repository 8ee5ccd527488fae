using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>Sample i's noise depends only on (seed, i): slices of a set are the set, and the batch size does not choose the noise.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class PerSampleSeedingTests : IDisposable
{
    private readonly UNet2DModel _model;
    private readonly DiffusionPipeline _pipeline;

    public PerSampleSeedingTests()
    {
        torch.random.manual_seed(0);
        _model = new UNet2DModel(TinyData.TinyUNet());
        _model.eval();
        // DDPM: every step but the last adds fresh noise, so the per-step streams matter as much as x_T.
        _pipeline = DiffusionPipeline.FromModel(_model, SchedulerFactory.Create("ddpm", new NoiseScheduleConfig(), PredictionType.Epsilon, TimestepSpacing.Trailing));
    }

    public void Dispose()
    {
        _pipeline.Dispose();
        _model.Dispose();
    }

    [Fact]
    public void Should_make_the_set_from_any_slices_bit_identically()
    {
        // Given a set of 7 samples made whole, in batches of 2
        using var whole = _pipeline.Generate(7, 4, seed: 11, classLabels: null, batchSize: 2);

        // When it is made as slices [0, 2) and [2, 7), in batches of 2 (the ranks of a sharded run)
        using var first = _pipeline.GenerateRange(0, 2, 4, 11, classLabels: null, batchSize: 2);
        using var rest = _pipeline.GenerateRange(2, 5, 4, 11, classLabels: null, batchSize: 2);
        using var joined = torch.cat([first, rest], 0);

        // Then the slices are the set, bit for bit
        Assert.Equal(whole.data<float>().ToArray(), joined.data<float>().ToArray());
    }

    [Fact]
    public void Should_draw_the_same_noise_for_a_sample_whatever_the_batch_size()
    {
        // Given the same 6 samples in one batch and in batches of 4 (+ 2)
        using var one = _pipeline.Generate(6, 4, seed: 3, classLabels: null, batchSize: 6);
        using var several = _pipeline.Generate(6, 4, seed: 3, classLabels: null, batchSize: 4);

        // Then each sample is the same up to libtorch's batch-size-dependent float rounding (they got the same noise)
        double diff = (one - several).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"samples differ by {diff} between batch sizes 6 and 4");
        using var other = _pipeline.Generate(6, 4, seed: 4, classLabels: null, batchSize: 6);
        Assert.True((one - other).abs().max().item<float>() > 0.1, "another seed gave the same samples");
    }

    [Fact]
    public void Should_seed_each_sample_from_the_seed_and_its_index_alone()
    {
        Assert.Equal(DiffusionPipeline.SampleSeed(5, 9), DiffusionPipeline.SampleSeed(5, 9));
        Assert.NotEqual(DiffusionPipeline.SampleSeed(5, 9), DiffusionPipeline.SampleSeed(5, 10));
        Assert.NotEqual(DiffusionPipeline.SampleSeed(5, 9), DiffusionPipeline.SampleSeed(6, 9));
    }
}
