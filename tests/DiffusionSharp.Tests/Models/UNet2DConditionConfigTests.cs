using System.Text.Json;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Models;

/// <summary>Reading, writing and rejecting UNet2DConditionModel configs.</summary>
public sealed class UNet2DConditionConfigTests
{
    private static string GoldenConfigPath => Path.Combine(TestPaths.Golden, "unet2d_condition", "config.json");

    [Fact]
    public void Should_ReadDiffusersValues_When_LoadingGoldenConfig()
    {
        var config = Assert.IsType<UNet2DConditionConfig>(Denoisers.LoadConfig(GoldenConfigPath));
        Assert.Equal([32, 32, 64], config.BlockOutChannels);
        Assert.Equal(32, config.CrossAttentionDim);
        Assert.Equal(8, config.HeadsAt(2));
        Assert.Equal(1, config.TransformerLayersAt(1));
        Assert.Equal(16, config.NormNumGroups);
        Assert.Equal(CrossAttnUpBlockType.UpBlock2D, config.UpBlockTypes[0]);
        Assert.Equal(DiffusionSharp.Conditioning.ConditionKind.Embedding, config.Conditioning);
        Assert.Equal([4, 16, 16], config.SampleShape);
    }

    [Fact]
    public void Should_WriteEveryDiffusersKeyWithTheSameValue_When_SavingGoldenConfig()
    {
        // Given diffusers' own config.json and ours written from it
        using var golden = JsonDocument.Parse(File.ReadAllText(GoldenConfigPath));
        var json = UNet2DConditionConfig.Load(GoldenConfigPath).ToJson();
        using var ours = JsonDocument.Parse(json);

        // Then the key sets are equal and every value means the same (numbers compared as numbers)
        var goldenKeys = golden.RootElement.EnumerateObject().Select(p => p.Name).Order().ToList();
        Assert.Equal(goldenKeys, ours.RootElement.EnumerateObject().Select(p => p.Name).Order().ToList());
        foreach (var p in golden.RootElement.EnumerateObject())
        {
            var mine = ours.RootElement.GetProperty(p.Name);
            if (p.Value.ValueKind == JsonValueKind.Number) Assert.Equal(p.Value.GetDouble(), mine.GetDouble());
            else Assert.True(p.Value.GetRawText() == mine.GetRawText(), $"{p.Name}: diffusers {p.Value.GetRawText()}, ours {mine.GetRawText()}");
        }
        Assert.Equal(json, UNet2DConditionConfig.FromJson(json).ToJson());
    }

    [Fact]
    public void Should_KeepPerLevelLists_When_RoundTrippingSd21()
    {
        var json = UNet2DConditionPresets.StableDiffusion21.ToJson();
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("[5,10,20,20]", doc.RootElement.GetProperty("attention_head_dim").GetRawText().Replace(" ", "").Replace("\n", ""));
        Assert.True(doc.RootElement.GetProperty("use_linear_projection").GetBoolean());
        var back = UNet2DConditionConfig.FromJson(json);
        Assert.Equal(20, back.HeadsAt(3));
        Assert.Equal(5, back.HeadsAt(0));
    }

    [Theory]
    [InlineData("num_attention_heads", "8", "8")]
    [InlineData("only_cross_attention", "true", "true")]
    [InlineData("dual_cross_attention", "true", "true")]
    [InlineData("addition_embed_type", "\"text_time\"", "\"text_time\"")]
    [InlineData("class_embed_type", "\"timestep\"", "\"timestep\"")]
    [InlineData("encoder_hid_dim_type", "\"text_proj\"", "\"text_proj\"")]
    [InlineData("time_embedding_type", "\"fourier\"", "\"fourier\"")]
    [InlineData("attention_type", "\"gated\"", "\"gated\"")]
    [InlineData("cross_attention_dim", "[32, 32, 32]", "[32, 32, 32]")]
    [InlineData("layers_per_block", "[1, 2, 2]", "[1, 2, 2]")]
    [InlineData("attention_head_dim", "[8, 8]", "[8, 8]")]
    [InlineData("mid_block_type", "\"UNetMidBlock2DSimpleCrossAttn\"", "\"UNetMidBlock2DSimpleCrossAttn\"")]
    [InlineData("down_block_types", "[\"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\", \"SimpleCrossAttnDownBlock2D\"]", "SimpleCrossAttnDownBlock2D")]
    [InlineData("no_such_option", "1", "1")]
    public void Should_RejectWithKeyAndValue_When_OptionIsUnsupported(string key, string value, string mention)
    {
        // Given the golden config with one key set to an unsupported value
        var json = File.ReadAllText(GoldenConfigPath);
        using var doc = JsonDocument.Parse(json);
        var entries = doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
        entries[key] = value;
        var edited = "{" + string.Join(",", entries.Select(kv => $"\"{kv.Key}\": {kv.Value}")) + "}";

        // Then loading fails with one line naming the source, the key and the value
        var e = Assert.Throws<InvalidInputException>(() => UNet2DConditionConfig.FromJson(edited, "unet/config.json"));
        Assert.StartsWith("unet/config.json: ", e.Message);
        Assert.Contains(key, e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.True(e.Message.Contains(mention) || e.Message.Contains(mention.Replace(" ", "")), e.Message);
    }

    [Fact]
    public void Should_NameTheLayer_When_GroupsDoNotDivideChannels()
    {
        var config = new UNet2DConditionConfig { BlockOutChannels = [32, 48], DownBlockTypes = [CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.DownBlock2D],
            UpBlockTypes = [CrossAttnUpBlockType.UpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D], NormNumGroups = 32, CrossAttentionDim = 8 };
        var e = Assert.Throws<InvalidInputException>(() => new UNet2DConditionModel(config, new TorchSharp.torch.Device(TorchSharp.DeviceType.META)));
        Assert.Contains("norm_num_groups = 32", e.Message);
        Assert.Contains("48", e.Message);
    }
}
