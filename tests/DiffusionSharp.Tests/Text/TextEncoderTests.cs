using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Text;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Text;

/// <summary>Given the golden tokenizer and text model, prompts become transformers' hidden states with the empty prompt as null value.</summary>
public sealed class TextEncoderTests
{
    private const double Tolerance = 1e-4;

    private static TextEncoder Load(int maxBatch) => new(
        ClipTokenizer.FromPretrained(Path.Combine(TestPaths.Golden, "clip_tokenizer")),
        ClipTextModel.FromPretrained(Path.Combine(TestPaths.Golden, "clip_text"))) { MaxBatch = maxBatch };

    private static string[] Strings() =>
        Golden.Load("clip_text/io.json").GetProperty("strings").EnumerateArray().Select(e => e.GetString()!).ToArray();

    [Theory]
    [InlineData(16)]
    [InlineData(4)]
    public void Should_MatchTransformersHiddenStates_When_EncodingGoldenPrompts(int maxBatch)
    {
        using var encoder = Load(maxBatch);
        var io = SafetensorsFile.Load(Path.Combine(TestPaths.Golden, "clip_text", "io.safetensors"));
        try
        {
            var truncated = new List<PromptTruncation>();
            using var condition = encoder.Encode(Strings(), truncated.Add);
            var expected = io["last_hidden_state"];
            Assert.Equal(expected.shape, condition.Hidden.shape);
            Assert.True((condition.Hidden - expected).abs().max().item<float>() <= Tolerance);
            Assert.Null(condition.Mask);
            // strings[2] is the empty prompt: its row is the null value (diffusers' negative prompt "").
            Assert.True((condition.NullHidden - expected[2]).abs().max().item<float>() <= Tolerance);
            // strings[3] is the long prompt the golden row cuts at 75 tokens.
            Assert.Equal(3, Assert.Single(truncated).Index);
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_UseNullHidden_When_ConditionIsMadeUnconditional()
    {
        using var encoder = Load(16);
        using var condition = encoder.Encode(["a photo of a cat", "hello world"]);
        using var uncond = (DiffusionSharp.Conditioning.EmbeddingCondition)condition.Unconditional();
        using var empty = encoder.EncodeHidden(["", ""]);
        Assert.True(uncond.Hidden.eq(empty).all().item<bool>());
        Assert.False(condition.Hidden.eq(empty).all().item<bool>());
    }

    [Fact]
    public void Should_LeaveNoTensorAlive_When_ConditionAndOutputAreDisposed()
    {
        // Given an encoder whose null value already exists, and the number of live tensors on this thread
        using var encoder = Load(2);
        _ = encoder.NullHidden;
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        // When prompts are encoded in three batches, and the model is called with hidden states, and all is disposed
        encoder.Encode(["a", "b", "c", "d", "e"]).Dispose();
        using (var ids = tensor(new long[] { 49406, 320, 49407 }, [1, 3]))
            encoder.Model.Encode(ids, outputHiddenStates: true).Dispose();

        // Then the count is back where it started
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
