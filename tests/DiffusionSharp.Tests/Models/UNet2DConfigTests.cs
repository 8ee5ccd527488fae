using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Models;

/// <summary>config.json parsing: diffusers' defaults, round trips, and errors that name the key and value.</summary>
public sealed class UNet2DConfigTests
{
    [Fact]
    public void Should_TakeDiffusersDefaults_When_KeysAreAbsent()
    {
        var c = UNet2DConfig.FromJson("{}");
        Assert.Equal([224, 448, 672, 896], c.BlockOutChannels);
        Assert.Equal(32, c.NormNumGroups);
        Assert.Equal(8, c.AttentionHeadDim);
        Assert.Equal(2, c.LayersPerBlock);
        Assert.True(c.FlipSinToCos);
        Assert.Equal(1e-5, c.NormEps);
        Assert.Equal(MidBlockType.UNetMidBlock2D, c.MidBlockType);
        Assert.Equal(DownBlockType.AttnDownBlock2D, c.DownBlockTypes[3]);
    }

    [Theory]
    [InlineData("unet")]
    [InlineData("unet_ddpmstyle")]
    public void Should_RoundTrip_When_ReadingGoldenConfigs(string folder)
    {
        var path = Path.Combine(TestPaths.Golden, folder, "config.json");
        var c = UNet2DConfig.Load(path);
        var json = c.ToJson();
        Assert.Equal(json, UNet2DConfig.FromJson(json).ToJson());
        // Same keys and values as the file diffusers wrote (modulo number formatting).
        using var ours = System.Text.Json.JsonDocument.Parse(json);
        using var theirs = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(theirs.RootElement.EnumerateObject().Select(p => p.Name), ours.RootElement.EnumerateObject().Select(p => p.Name));
        foreach (var p in theirs.RootElement.EnumerateObject().Where(p => p.Value.ValueKind != System.Text.Json.JsonValueKind.Number))
        {
            Assert.Equal(p.Value.GetRawText().Replace(" ", "").Replace("\n", ""), ours.RootElement.GetProperty(p.Name).GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", ""));
        }
    }

    [Fact]
    public void Should_ReadDdpmStyleOptions_When_LoadingTheDdpmGolden()
    {
        var c = UNet2DConfig.Load(Path.Combine(TestPaths.Golden, "unet_ddpmstyle", "config.json"));
        Assert.Null(c.AttentionHeadDim);
        Assert.Equal(0, c.DownsamplePadding);
        Assert.False(c.FlipSinToCos);
        Assert.Equal(1, c.FreqShift);
        Assert.Equal(1e-6, c.NormEps);
        Assert.Equal(10, c.NumClassEmbeds);
        Assert.True(c.IsClassConditional);
    }

    [Fact]
    public void Should_IgnorePrivateKeys_When_TheyStartWithUnderscore()
    {
        var c = UNet2DConfig.FromJson("{\"_name_or_path\": \"x\", \"_diffusers_version\": \"0.35.2\", \"_class_name\": \"UNet2DModel\"}");
        Assert.Equal(3, c.InChannels);
    }

    [Theory]
    [InlineData("{\"cross_attention_dim\": 768}", "unknown UNet2DModel key 'cross_attention_dim'")]
    [InlineData("{\"_class_name\": \"UNet2DConditionModel\"}", "_class_name = \"UNet2DConditionModel\"")]
    [InlineData("{\"act_fn\": \"gelu\"}", "act_fn = \"gelu\"")]
    [InlineData("{\"time_embedding_type\": \"learned\"}", "time_embedding_type = \"learned\"")]
    [InlineData("{\"resnet_time_scale_shift\": \"spatial\"}", "resnet_time_scale_shift = \"spatial\"")]
    [InlineData("{\"class_embed_type\": \"projection\"}", "class_embed_type = \"projection\"")]
    [InlineData("{\"up_block_types\": [\"AttnUpBlock2D\", \"AttnUpBlock2D\", \"AttnUpBlock2D\", \"SkipUpBlock2D\"]}", "up_block_types = \"SkipUpBlock2D\"")]
    [InlineData("{\"mid_block_type\": \"UNetMidBlock2DCrossAttn\"}", "mid_block_type = \"UNetMidBlock2DCrossAttn\"")]
    [InlineData("{\"block_out_channels\": [32, 64]}", "down_block_types")]
    [InlineData("{\"layers_per_block\": \"two\"}", "layers_per_block = \"two\"")]
    [InlineData("{\"downsample_padding\": 2}", "downsample_padding = 2")]
    [InlineData("{\"attention_head_dim\": 0}", "attention_head_dim = 0")]
    [InlineData("not json", "not valid JSON")]
    public void Should_NameKeyAndValue_When_OptionIsUnsupported(string json, string expected)
    {
        var e = Assert.Throws<InvalidInputException>(() => UNet2DConfig.FromJson(json, "my/config.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("my/config.json", e.Message);
    }

    [Fact]
    public void Should_BuildWithoutMidBlock_When_MidBlockTypeIsNull()
    {
        var c = UNet2DConfig.FromJson("{\"mid_block_type\": null, \"block_out_channels\": [8, 16], \"norm_num_groups\": 4, \"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\"]}");
        Assert.Equal(MidBlockType.None, c.MidBlockType);
        Assert.Contains("\"mid_block_type\": null", c.ToJson());
        using var model = new UNet2DModel(c, new TorchSharp.torch.Device(TorchSharp.DeviceType.META));
        Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("mid_block", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_ListPresets_When_AskedByName()
    {
        Assert.Equal(["mnist-nano", "mnist-tiny", "mnist-small", "emoji32-small", "emoji-latent-small", "cifar10-ddpm"], ModelPresets.Names);
        Assert.Same(ModelPresets.Emoji32Small, ModelPresets.Get("emoji32-small"));
        Assert.Equal([3, 32, 32], ModelPresets.Emoji32Small.SampleShape);
        Assert.Same(ModelPresets.MnistSmall, ModelPresets.Get("MNIST-small"));
        Assert.Contains("mnist-tiny", Assert.Throws<InvalidInputException>(() => ModelPresets.Get("huge")).Message);
    }

    [Theory]
    [InlineData("{\"downsample_type\": \"resnet\", \"upsample_type\": \"resnet\"}")]
    [InlineData("{\"resnet_time_scale_shift\": \"scale_shift\"}")]
    [InlineData("{\"time_embedding_type\": \"fourier\", \"center_input_sample\": true}")]
    [InlineData("{\"class_embed_type\": \"timestep\", \"dropout\": 0.1, \"add_attention\": false}")]
    public void Should_RunForward_When_UsingOptionsWithoutGoldenData(string extra)
    {
        // Shape and finiteness only: these paths follow diffusers' source but have no golden numbers.
        var baseJson = "{\"sample_size\": 8, \"in_channels\": 2, \"out_channels\": 2, \"block_out_channels\": [8, 16], \"norm_num_groups\": 4, " +
            "\"attention_head_dim\": 4, \"layers_per_block\": 1, \"down_block_types\": [\"AttnDownBlock2D\", \"AttnDownBlock2D\"], " +
            "\"up_block_types\": [\"AttnUpBlock2D\", \"AttnUpBlock2D\"]}";
        using var merged = System.Text.Json.JsonDocument.Parse(extra);
        var json = baseJson.TrimEnd('}') + ", " + extra.Trim().TrimStart('{');
        var config = UNet2DConfig.FromJson(json);
        using var model = new UNet2DModel(config);
        using var _ = TorchSharp.torch.inference_mode();
        var x = TorchSharp.torch.randn(2, 2, 8, 8);
        var t = TorchSharp.torch.tensor(new float[] { 0.5f, 10f });
        var labels = config.ClassEmbedType == ClassEmbedType.Timestep ? TorchSharp.torch.tensor(new long[] { 1, 2 }) : null;
        using var y = model.forward(x, t, labels);
        Assert.Equal([2L, 2, 8, 8], y.shape);
        Assert.True(y.isfinite().all().item<bool>());
        Assert.Equal(config.ToJson(), UNet2DConfig.FromJson(config.ToJson()).ToJson());
    }
}
