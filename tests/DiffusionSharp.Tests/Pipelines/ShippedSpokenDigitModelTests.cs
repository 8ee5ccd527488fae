using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>The shipped spoken-digit model (<c>models/spoken-digits-audio</c>) loads as a pipeline and samples clips of a requested digit.</summary>
public sealed class ShippedSpokenDigitModelTests
{
    private static string Folder => Path.Combine(TestPaths.RepoRoot, "models", "spoken-digits-audio");

    [Fact]
    public void Should_sample_finite_8192_sample_clips_of_requested_digits_in_a_few_guided_steps()
    {
        // Given the shipped model (its unet/ holds the EMA weights: an audio-patch4 network over the ten digits)
        using var pipeline = DiffusionPipeline.Load(Folder, samplerName: "dpmpp-2m");
        var config = Assert.IsType<AudioUNet1DConfig>(pipeline.Denoiser.Config);
        Assert.Equal((8192, 8000, 4, 10, 5.0), (config.SampleSize, config.SampleRate, config.PatchSize, pipeline.NumClasses, config.DataScale));
        Assert.Equal(Enumerable.Range(0, 10).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)), ClassNamesFile.Read(Folder)!);

        // When it draws a "three" and a "seven" in 3 guided steps, twice with the same seed
        using var clips = pipeline.Generate(2, 3, seed: 0, classLabels: [3, 7], guidance: 4, batchSize: 2);
        using var again = pipeline.Generate(2, 3, seed: 0, classLabels: [3, 7], guidance: 4, batchSize: 2);

        // Then they are mono clips of 8,192 samples, finite, not silent, near the data range (divided by the data scale), and the seed fixes them
        Assert.Equal([2L, 1, 8192], clips.shape);
        Assert.True(clips.isfinite().all().item<bool>());
        double peak = clips.abs().max().item<float>();
        Assert.True(peak is > 0.05 and < 3, $"peak {peak:F3}");
        Assert.True(clips.eq(again).all().item<bool>());
    }
}
