using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>Given transformers' CLIPTextModel outputs for random weights (../shared/golden/visible/clip_text), the port must reproduce them.</summary>
public sealed class ClipTextModelGoldenTests(ITestOutputHelper output)
{
    // README §10: atol 1e-4 (or 3e-5 relative to max |x|).
    private const double Tolerance = 1e-4;
    private static readonly string Folder = Path.Combine(TestPaths.Golden, "clip_text");

    private void AssertClose(Tensor actual, Tensor expected, string name)
    {
        Assert.Equal(expected.shape, actual.shape);
        var err = (actual.to_type(ScalarType.Float64) - expected.to_type(ScalarType.Float64)).abs().max().item<double>();
        output.WriteLine($"{name,-28} max abs err {err:E2}");
        Assert.True(err <= Tolerance, $"{name}: max abs error {err} > {Tolerance}");
    }

    [Fact]
    public void Should_MatchTransformersOutput_When_LoadingGoldenFolder()
    {
        using var model = ClipTextModel.FromPretrained(Folder);
        var io = SafetensorsFile.Load(Path.Combine(Folder, "io.safetensors"));
        try
        {
            using var _ = inference_mode();
            using var result = model.Encode(io["input_ids"], outputHiddenStates: true);
            AssertClose(result.LastHiddenState, io["last_hidden_state"], "last_hidden_state");
            AssertClose(result.PoolerOutput, io["pooler_output"], "pooler_output");
            Assert.Equal(4, result.HiddenStates.Count);
            for (var i = 0; i < 4; i++) AssertClose(result.HiddenStates[i], io[$"hidden_states.{i}"], $"hidden_states.{i}");
            using var skip1 = model.FinalLayerNorm(result.HiddenStates[^2]);
            AssertClose(skip1, io["clip_skip1_embeds"], "clip_skip1_embeds");
            Assert.Equal([6L, 11, 1, 76, 5, 3], model.PoolingIndex(io["input_ids"]).data<long>().ToArray());

            // The attention mask of tokenizer rows only hides padding after the eos, which the causal mask already hides
            // from every position up to the eos; those positions must not change.
            using var masked = model.Encode(io["input_ids"], io["attention_mask"]);
            AssertClose(masked.PoolerOutput, io["pooler_output"], "pooler_output (with mask)");

            using var shortRow = model.Encode(io["short.input_ids"]);
            AssertClose(shortRow.LastHiddenState, io["short.last_hidden_state"], "short.last_hidden_state");
            AssertClose(shortRow.PoolerOutput, io["short.pooler_output"], "short.pooler_output");
            using var noEos = model.Encode(io["no_eos.input_ids"]);
            AssertClose(noEos.PoolerOutput, io["no_eos.pooler_output"], "no_eos.pooler_output");
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_PoolAtFirstEos_When_EosTokenIdIsNotTheLegacyTwo()
    {
        using var legacy = ClipTextModel.FromPretrained(Folder);
        using var model = new ClipTextModel(legacy.Config with { EosTokenId = 49407 });
        model.load_state_dict(legacy.state_dict());
        model.eval();
        var io = SafetensorsFile.Load(Path.Combine(Folder, "io.safetensors"));
        try
        {
            using var _ = inference_mode();
            using var result = model.Encode(io["input_ids"]);
            AssertClose(result.PoolerOutput, io["pooler_output_other_rule"], "pooler_output_other_rule");
            using var noEos = model.Encode(io["no_eos.input_ids"]);
            AssertClose(noEos.PoolerOutput, io["no_eos.pooler_output_other_rule"], "no_eos.pooler_output_other_rule");
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }
}
