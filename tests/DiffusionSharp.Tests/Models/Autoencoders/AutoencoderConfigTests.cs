using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Models.Autoencoders;

/// <summary>The autoencoder configs read diffusers' config.json, write it back, and name every key or value they cannot honour.</summary>
public sealed class AutoencoderConfigTests
{
    private static string GoldenConfig(string folder) => File.ReadAllText(Path.Combine(TestPaths.Golden, folder, "config.json"));

    [Fact]
    public void Should_ReadDiffusersValues_When_LoadingGoldenKLConfig()
    {
        var c = AutoencoderKLConfig.FromJson(GoldenConfig("vae_kl"));
        Assert.Equal([32, 64], c.BlockOutChannels);
        Assert.Equal(16, c.NormNumGroups);
        Assert.Equal(0.18215, c.ScalingFactor);
        Assert.Null(c.ShiftFactor);
        Assert.Equal(2, c.DownsamplingFactor);
        Assert.Equal(c, AutoencoderKLConfig.FromJson(c.ToJson()));
    }

    [Fact]
    public void Should_ReadDiffusersValues_When_LoadingGoldenTinyConfig()
    {
        var c = AutoencoderTinyConfig.FromJson(GoldenConfig("vae_tiny"));
        Assert.Equal([1, 3, 3, 3], c.NumEncoderBlocks);
        Assert.Equal([3, 3, 3, 1], c.NumDecoderBlocks);
        Assert.Equal(3.0, c.LatentMagnitude);
        Assert.Equal(0.5, c.LatentShift);
        Assert.Equal(8, c.DownsamplingFactor);
        Assert.Equal(c, AutoencoderTinyConfig.FromJson(c.ToJson()));
        Assert.Contains("\"block_out_channels\"", c.ToJson());
    }

    [Theory]
    [InlineData("\"act_fn\": \"silu\"", "\"act_fn\": \"gelu\"", "act_fn")]
    [InlineData("\"DownEncoderBlock2D\",\n    \"DownEncoderBlock2D\"", "\"DownEncoderBlock2D\",\n    \"AttnDownEncoderBlock2D\"", "down_block_types")]
    [InlineData("\"latents_mean\": null", "\"latents_mean\": [0, 0, 0, 0]", "latents_mean")]
    [InlineData("\"in_channels\": 3", "\"in_channels\": 3, \"norm_type\": \"spatial\"", "norm_type")]
    [InlineData("\"_class_name\": \"AutoencoderKL\"", "\"_class_name\": \"UNet2DModel\"", "_class_name")]
    [InlineData("\"block_out_channels\": [\n    32,\n    64\n  ]", "\"block_out_channels\": [64]", "down_block_types")]
    public void Should_NameTheKey_When_KLConfigHasUnsupportedValue(string original, string replacement, string key)
    {
        var json = GoldenConfig("vae_kl");
        Assert.Contains(original, json);
        var e = Assert.Throws<InvalidInputException>(() => AutoencoderKLConfig.FromJson(json.Replace(original, replacement), "vae/config.json"));
        Assert.StartsWith("vae/config.json: ", e.Message);
        Assert.Contains(key, e.Message);
    }

    [Theory]
    [InlineData("\"upsample_fn\": \"nearest\"", "\"upsample_fn\": \"bilinear\"", "upsample_fn")]
    [InlineData("\"block_out_channels\": [\n    16,\n    16,\n    16,\n    16\n  ]", "\"block_out_channels\": [64, 64, 64, 64]", "block_out_channels")]
    [InlineData("\"num_encoder_blocks\": [\n    1,\n    3,\n    3,\n    3\n  ]", "\"num_encoder_blocks\": [1, 3]", "num_encoder_blocks")]
    [InlineData("\"encoder_block_out_channels\": [\n    16,\n    16,\n    16,\n    16\n  ]", "\"encoder_block_out_channels\": [16, 32, 32, 32]", "encoder_block_out_channels")]
    public void Should_NameTheKey_When_TinyConfigHasUnsupportedValue(string original, string replacement, string key)
    {
        var json = GoldenConfig("vae_tiny");
        Assert.Contains(original, json);
        var e = Assert.Throws<InvalidInputException>(() => AutoencoderTinyConfig.FromJson(json.Replace(original, replacement), "taesd/config.json"));
        Assert.StartsWith("taesd/config.json: ", e.Message);
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Should_NameTheLayer_When_NormGroupsDoNotDivideChannels()
    {
        var e = Assert.Throws<InvalidInputException>(() => new AutoencoderKL(new AutoencoderKLConfig { BlockOutChannels = [24], NormNumGroups = 16 }));
        Assert.Contains("norm_num_groups", e.Message);
        Assert.Contains("encoder.down_blocks.0.resnets.0.norm1", e.Message);
    }
}
