using DiffusionSharp.Data;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>The shipped latent emoji model (<c>models/emoji-latent-subgroup</c>) loads as a pipeline and samples decoded 64x64 emoji.</summary>
public sealed class ShippedEmojiLatentModelTests
{
    private static string Folder => Path.Combine(TestPaths.RepoRoot, "models", "emoji-latent-subgroup");

    /// <summary>The 99 values of the bundled emoji's <c>subgroup</c> column, in the sorted (ordinal) order the run numbered them.</summary>
    private static readonly string[] Subgroups = ImageFolderMetadata.Read(Path.Combine(TestPaths.RepoRoot, "data", "emoji", ImageFolderMetadata.FileName))
        .Column("subgroup")!.Select(v => v!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Should_name_the_99_emoji_subgroups_and_pair_a_kl_vae_with_a_latent_unet()
    {
        // Given the shipped folder
        // When its class names and parts are read
        var names = ClassNamesFile.Read(Folder);
        string? vae = DiffusionPipeline.VaeFolder(Folder);

        // Then it is conditioned on the 99 subgroups and decodes 16x16x4 latents with its own AutoencoderKL
        Assert.Equal(99, Subgroups.Length);
        Assert.Equal(Subgroups, names);
        Assert.NotNull(vae);
        var config = AutoencoderKLConfig.Load(Path.Combine(vae, "config.json"));
        Assert.Equal(4, config.LatentChannels);
        Assert.Equal(64, config.SampleSize);
        Assert.NotEqual(1.0, config.ScalingFactor);
    }

    [Fact]
    public void Should_sample_finite_64x64_colour_images_of_a_requested_subgroup_in_a_few_steps()
    {
        // Given the shipped model (its unet/ holds the EMA weights) with DPM-Solver++ 2M
        using var pipeline = DiffusionPipeline.Load(Folder, samplerName: "dpmpp-2m");
        Assert.NotNull(pipeline.Vae);
        Assert.Equal(Subgroups.Length, pipeline.NumClasses);

        // When it draws a heart and a flag in 3 guided steps, twice with the same seed
        long hearts = Array.IndexOf(Subgroups, "heart"), flags = Array.IndexOf(Subgroups, "country-flag");
        using var images = pipeline.Generate(2, 3, seed: 0, classLabels: [hearts, flags], guidance: 3, batchSize: 2);
        using var again = pipeline.Generate(2, 3, seed: 0, classLabels: [hearts, flags], guidance: 3, batchSize: 2);

        // Then they are decoded RGB images (not latents), finite, in the data range up to the unclamped decoder's overshoot
        // (its white backgrounds reach about 1.8 after 3 steps), mostly light as emoji on white are, not flat, and the seed
        // fixes them
        Assert.Equal([2L, 3, 64, 64], images.shape);
        Assert.True(images.isfinite().all().item<bool>());
        double min = images.min().item<float>(), max = images.max().item<float>(), mean = images.mean().item<float>();
        Assert.True(min >= -2.5 && max <= 2.5 && mean > 0, $"values {min:F3} .. {max:F3}, mean {mean:F3}");
        Assert.True(images.std().item<float>() > 0.05, "the images are flat");
        Assert.True(images.eq(again).all().item<bool>());
    }
}
