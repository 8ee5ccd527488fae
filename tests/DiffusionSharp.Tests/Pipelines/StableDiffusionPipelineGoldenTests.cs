using DiffusionSharp.Imaging;
using DiffusionSharp.IO;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>
/// Given diffusers 0.30.3's own 4-step classifier-free-guided run of a tiny StableDiffusionPipeline folder
/// (../shared/golden/visible/sd_chain, README section 12), the pipeline must reproduce every step's latents and the image.
/// </summary>
public sealed class StableDiffusionPipelineGoldenTests(ITestOutputHelper output)
{
    /// <summary>README section 12: latents within 1e-4 · max(1, max |ref|), the image within atol 1e-3, the 8-bit image within ±1.</summary>
    private const double LatentRelTolerance = 1e-4, ImageTolerance = 1e-3;

    private const string Prompt = "a photo of an astronaut riding a horse on mars", NegativePrompt = "blurry, low quality";

    public static string Folder => Path.Combine(TestPaths.Golden, "sd_chain");

    private static string Reference => Path.Combine(Folder, "chain.safetensors");

    [Fact]
    public void Should_ReproduceEveryStepAndTheImage_When_SamplingFromTheSeedAsDiffusers()
    {
        // Given the golden folder and the run's settings (seed 600, 4 steps, guidance 7.5, default size)
        using var pipeline = StableDiffusionPipeline.Load(Folder);
        var reference = SafetensorsFile.Load(Reference);
        try
        {
            // When the pipeline draws its own latents from the seed
            using var result = pipeline.Generate(Prompt, NegativePrompt, 7.5, 4, seed: 600);

            // Then the size is unet sample_size · vae factor, the noise is torch's for that seed, and each step matches
            Assert.Equal(32, pipeline.DefaultSize);
            Assert.Equal([751.0, 501, 251, 1], result.Timesteps);
            Assert.Equal(0.0, MaxAbsDiff(result.InitialLatents, reference["initial_latents"]), 6);
            Assert.Equal(4, result.StepLatents.Count);
            for (int i = 0; i < 4; i++)
            {
                var want = reference[$"step{i}.latents_out"];
                double tolerance = LatentRelTolerance * Math.Max(1.0, want.abs().max().item<float>());
                double err = MaxAbsDiff(result.StepLatents[i], want);
                output.WriteLine($"step {i}: max abs error {Golden.Show(err)} (allowed {Golden.Show(tolerance)})");
                Assert.True(err <= tolerance, $"step {i}: {err} > {tolerance}");
            }
            double imageErr = MaxAbsDiff(result.Image, reference["image"]);
            output.WriteLine($"image: max abs error {Golden.Show(imageErr)}");
            Assert.True(imageErr <= ImageTolerance, $"image: {imageErr}");

            // And the 8-bit image (what the PNG holds) is diffusers' output_type="pil" within rounding
            var pixels = PixelImage.FromBatch(result.Image)[0];
            var want8 = reference["image_uint8"].data<long>().ToArray();
            int worst = 0;
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    for (int c = 0; c < 3; c++)
                        worst = Math.Max(worst, (int)Math.Abs(pixels.Pixels[(c * 32 + y) * 32 + x] - want8[(y * 32 + x) * 3 + c]));
            Assert.InRange(worst, 0, 1);
        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_PassTheChainCheck_AndFailIt_When_TheToleranceIsTooTight()
    {
        // Given the pipeline and the chain reference (prompt, negative prompt and guidance from chain.json)
        using var pipeline = StableDiffusionPipeline.Load(Folder);

        // When it is checked with the README's tolerances, then every quantity passes
        var ok = StableDiffusionChainCheck.Run(pipeline, Reference);
        Assert.True(ok.TokensMatch);
        Assert.Equal(4, ok.Steps);
        Assert.True(ok.Passed, string.Join(", ", ok.StepMaxAbsErrors));

        // And with an impossible tolerance it fails
        var strict = StableDiffusionChainCheck.Run(pipeline, Reference, latentRelTolerance: 1e-12, imageTolerance: 1e-12);
        Assert.False(strict.Passed);
    }

    [Fact]
    public void Should_UseTheNegativePrompt_When_Guiding()
    {
        // Given the golden pipeline, one step from the same noise
        using var pipeline = StableDiffusionPipeline.Load(Folder);
        using var withNegative = pipeline.Generate(Prompt, NegativePrompt, 7.5, 1, seed: 600);
        using var withEmpty = pipeline.Generate(Prompt, null, 7.5, 1, seed: 600);
        using var unguided = pipeline.Generate(Prompt, NegativePrompt, 1.0, 1, seed: 600);

        // Then the negative prompt changes the guided step, and w = 1 ignores it
        using var unguidedEmpty = pipeline.Generate(Prompt, null, 1.0, 1, seed: 600);
        Assert.True(MaxAbsDiff(withNegative.StepLatents[0], withEmpty.StepLatents[0]) > 1e-3);
        Assert.Equal(0.0, MaxAbsDiff(unguided.StepLatents[0], unguidedEmpty.StepLatents[0]));
    }

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a.to_type(ScalarType.Float64) - b.to_type(ScalarType.Float64)).abs().max();
        return d.item<double>();
    }
}
