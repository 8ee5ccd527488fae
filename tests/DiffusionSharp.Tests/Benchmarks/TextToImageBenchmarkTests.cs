using DiffusionSharp.Benchmarks;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Benchmarks;

/// <summary>
/// The text-to-image benchmark: the sd15 preset's parameter counts against the published ones (counted on the meta device,
/// nothing allocated), and one timed run of a very small pipeline that leaves no tensor behind. Never asserts speed.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class TextToImageBenchmarkTests
{
    /// <summary>A pipeline far smaller than text-tiny: 32-channel UNet of two levels, a 2-layer CLIP 32 wide, a two-level VAE (factor 2).</summary>
    private static TextToImagePreset Small { get; } = new("small",
        new UNet2DConditionConfig
        {
            SampleSize = 8,
            BlockOutChannels = [32, 32],
            DownBlockTypes = [CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.DownBlock2D],
            UpBlockTypes = [CrossAttnUpBlockType.UpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D],
            LayersPerBlock = 1,
            AttentionHeadDim = [2],
            CrossAttentionDim = 32,
            NormNumGroups = 8,
        },
        new ClipTextConfig { HiddenSize = 32, IntermediateSize = 64, ProjectionDim = 32, NumHiddenLayers = 2, NumAttentionHeads = 2 },
        TinyVae.Config(), TextToImagePresets.StableDiffusionSchedulerJson, null);

    [Fact]
    public void Should_count_the_published_parameters_of_sd15_without_allocating_weights()
    {
        // Given the sd15 preset
        var preset = TextToImagePresets.Get("SD15");

        // When its three networks are counted on the meta device
        var counts = preset.CountParameters();

        // Then they are Stable Diffusion 1.5's published counts, and the check against them passes
        Assert.Equal(new PipelineParameterCounts(859_520_964, 123_060_480, 83_653_863), counts);
        Assert.Equal(preset.Published, counts);
        preset.CheckPublished(counts);
        Assert.Equal(512, preset.DefaultSize);
        Assert.Equal(8, preset.VaeScaleFactor);
    }

    [Fact]
    public void Should_refuse_an_architecture_whose_counts_differ_from_the_published_ones()
    {
        // Given sd15 with a VAE one level narrower than Stable Diffusion's
        var preset = TextToImagePresets.StableDiffusion15;
        var wrong = preset with { Vae = preset.Vae with { BlockOutChannels = [128, 256, 512, 256] } };

        // When its counts are checked, Then the VAE is named
        var e = Assert.Throws<InvalidOperationException>(() => wrong.CheckPublished(wrong.CountParameters()));
        Assert.Contains("VAE", e.Message);
        Assert.Contains("83,653,863", e.Message);
    }

    [Fact]
    public void Should_time_each_step_the_encoder_and_the_decode_and_leave_no_tensor_behind()
    {
        // Given a small pipeline with random weights and SD's PNDM scheduler
        using var built = Small.Build(seed: 3);
        var options = new TextToImageBenchmark.Options("small", built.TextModel, built.Unet, built.Vae, built.Scheduler,
            TextToImageBenchmark.FixedPromptIds(), TextToImageBenchmark.EmptyPromptIds(), Steps: 2, Height: 16, Width: 16);
        var seen = new List<int>();

        // When one guided image is run
        var r = TextToImageBenchmark.Run(options, (i, n, s) => seen.Add(i));

        // Then PNDM's 2 steps are 3 UNet calls of the doubled batch, each timed, and the phases add up to the total
        Assert.Equal([0, 1, 2], seen);
        Assert.Equal(3, r.UnetCalls);
        Assert.Equal(2, r.UnetBatch);
        Assert.All(r.StepSeconds, s => Assert.True(s > 0));
        Assert.True(r.MinStepSeconds <= r.MedianStepSeconds && r.MedianStepSeconds <= r.MaxStepSeconds);
        Assert.True(r.TextEncodeSeconds > 0 && r.VaeDecodeSeconds > 0);
        Assert.Equal(r.TextEncodeSeconds + r.StepSeconds.Sum() + r.VaeDecodeSeconds, r.TotalSeconds, 9);
        Assert.Equal(Small.CountParameters(), r.Parameters);
        Assert.True(r.ImageFinite);
        Assert.True(r.GFlopsPerUnetCall > 0 && r.GFlopsVaeDecode > 0);
        Assert.Equal(2 * built.Unet.FlopsPerImage(8, 8, 77) / 1e9, r.GFlopsPerUnetCall, 12);
        // and the run leaves the live tensor count where it was
        Assert.Equal(r.Memory.LiveTensorsStart, r.Memory.LiveTensorsEnd);
        Assert.True(r.Memory.PeakRssMiB is null or > 0);
        if (r.PeakRssByPhaseMiB is { } peaks)
            Assert.True(peaks.TextEncoder <= peaks.Denoise && peaks.Denoise <= peaks.VaeDecode && peaks.VaeDecode <= r.Memory.PeakRssMiB);
    }

    [Fact]
    public void Should_refuse_a_size_the_vae_and_unet_cannot_divide_naming_the_size()
    {
        // Given the small pipeline (VAE factor 2, UNet factor 2: sides must be multiples of 4)
        using var built = Small.Build();
        var options = new TextToImageBenchmark.Options("small", built.TextModel, built.Unet, built.Vae, built.Scheduler,
            TextToImageBenchmark.FixedPromptIds(), TextToImageBenchmark.EmptyPromptIds(), Steps: 1, Height: 16, Width: 18);

        // When it is validated, Then the error names the size and the multiple
        var e = Assert.Throws<InvalidInputException>(() => options.Validate());
        Assert.Equal(StableDiffusionPipeline.SizeProperty, e.Property);
        Assert.Contains("18x16", e.Message);
        Assert.Contains("multiple of 4", e.Message);
    }
}
