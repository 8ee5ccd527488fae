using System.Text.Json.Nodes;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>Broken copies of the golden sd_chain folder: each is refused with one line naming the file or the option.</summary>
public sealed class StableDiffusionPipelineInputTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A writable copy of the golden pipeline folder.</summary>
    public static string CopyGolden(string root)
    {
        var target = Path.Combine(root, "sd");
        foreach (var file in Directory.EnumerateFiles(StableDiffusionPipelineGoldenTests.Folder, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(StableDiffusionPipelineGoldenTests.Folder, file);
            if (rel.StartsWith("chain", StringComparison.Ordinal)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(target, rel))!);
            File.Copy(file, Path.Combine(target, rel));
            File.SetAttributes(Path.Combine(target, rel), FileAttributes.Normal);
        }
        return target;
    }

    [Fact]
    public void Should_NameTheComponent_When_AFolderOrIndexEntryIsMissing()
    {
        var folder = CopyGolden(_dir);
        Directory.Delete(Path.Combine(folder, "vae"), true);
        var e = Assert.Throws<InvalidInputException>(() => StableDiffusionPipeline.Load(folder));
        Assert.Contains("'vae'", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        var index = Path.Combine(folder, "model_index.json");
        var json = JsonNode.Parse(File.ReadAllText(index))!.AsObject();
        json.Remove("tokenizer");
        File.WriteAllText(index, json.ToJsonString());
        e = Assert.Throws<InvalidInputException>(() => StableDiffusionPipeline.Load(folder));
        Assert.Contains("model_index.json", e.Message);
        Assert.Contains("'tokenizer'", e.Message);
    }

    [Fact]
    public void Should_RefuseThePipeline_When_TheTextEncoderWidthIsNotTheCrossAttentionDim()
    {
        // Given a text encoder of width 16 (consistent weights) beside a UNet with cross_attention_dim 32
        var folder = CopyGolden(_dir);
        var encoderDir = Path.Combine(folder, "text_encoder");
        ClipTextConfig config;
        using (var golden = ClipTextModel.FromPretrained(encoderDir)) config = golden.Config with { HiddenSize = 16 };
        using (var narrow = new ClipTextModel(config)) narrow.SavePretrained(encoderDir);

        var e = Assert.Throws<InvalidInputException>(() => StableDiffusionPipeline.Load(folder));
        Assert.Contains("hidden_size 16", e.Message);
        Assert.Contains("cross_attention_dim 32", e.Message);
        Assert.Contains(Path.Combine("text_encoder", "config.json"), e.Message);
    }

    [Fact]
    public void Should_RefuseThePipeline_When_TheVaeLatentChannelsAreNotTheUNetChannels()
    {
        var folder = CopyGolden(_dir);
        var vaeDir = Path.Combine(folder, "vae");
        AutoencoderKLConfig config;
        using (var golden = AutoencoderKL.FromPretrained(vaeDir)) config = golden.Config with { LatentChannels = 8 };
        using (var wide = new AutoencoderKL(config)) wide.SavePretrained(vaeDir);

        var e = Assert.Throws<InvalidInputException>(() => StableDiffusionPipeline.Load(folder));
        Assert.Contains("latent_channels 8", e.Message);
        Assert.Contains("in_channels 4", e.Message);
    }

    [Fact]
    public void Should_NameTheFile_When_TheTokenizerIsBroken()
    {
        var folder = CopyGolden(_dir);
        File.WriteAllText(Path.Combine(folder, "tokenizer", "vocab.json"), "{\"a\": ");
        var e = Assert.Throws<InvalidInputException>(() => StableDiffusionPipeline.Load(folder));
        Assert.Contains("vocab.json", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_TruncateLikeDiffusers_When_ThePromptIsLongerThan77Tokens()
    {
        using var pipeline = StableDiffusionPipeline.Load(StableDiffusionPipelineGoldenTests.Folder);
        var longPrompt = string.Join(" ", Enumerable.Repeat("astronaut horse", 60));
        using var result = pipeline.Generate(longPrompt, null, 7.5, 1, seed: 1);
        var cut = Assert.Single(result.Truncations);
        Assert.Equal(0, cut.Index);
        Assert.Equal(75, cut.KeptTokens);
        Assert.Equal([1L, 3, 32, 32], result.Image.shape);

        // The kept row is the first 75 tokens: the same latents as the prompt cut by hand
        var kept = pipeline.TextEncoder.Tokenizer.Decode(pipeline.TextEncoder.Tokenizer.Encode(longPrompt).Take(75));
        using var byHand = pipeline.Generate(kept, null, 7.5, 1, seed: 1);
        Assert.Empty(byHand.Truncations);
        Assert.True(result.StepLatents[0].allclose(byHand.StepLatents[0], rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void Should_RefuseTheSize_When_ItIsNotAMultipleOfTheVaeFactor()
    {
        using var pipeline = StableDiffusionPipeline.Load(StableDiffusionPipelineGoldenTests.Folder);
        var e = Assert.Throws<InvalidInputException>(() => pipeline.Generate("a cat", null, 7.5, 1, height: 31, width: 32));
        Assert.Equal(StableDiffusionPipeline.SizeProperty, e.Property);
        Assert.Contains("32x31", e.Message);
    }

    [Fact]
    public void Should_RefuseTheFolder_When_ItsUNetIsUnconditional()
    {
        var (root, _) = TinyModels.SaveFresh();
        try
        {
            Assert.False(StableDiffusionPipeline.IsTextToImageFolder(root));
            Assert.Throws<InvalidInputException>(() => StableDiffusionPipeline.Load(root));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
