using DiffusionSharp.IO;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// Runs a <see cref="ClipTextModel"/> on a reference's <c>input_ids</c> and compares with its outputs, for
/// <c>diffuse model check</c> on a <c>text_encoder/</c> folder. The reference has the layout of the golden
/// <c>clip_text/io.safetensors</c>: <c>input_ids</c> [B, L] int64, <c>output</c> (or <c>last_hidden_state</c>, <c>output_fp32</c>)
/// [B, L, D], optionally <c>pooler_output</c> [B, D] and <c>hidden_states.N</c> [B, L, D]. No attention mask is passed,
/// as in Stable Diffusion's pipelines.
/// </summary>
public static class TextEncoderCheck
{
    /// <summary>Compares the model's <c>last_hidden_state</c> with the reference output; pooled and per-layer differences go to the intermediates.</summary>
    /// <exception cref="InvalidInputException">The reference lacks a tensor or its shapes do not fit the model.</exception>
    public static ModelCheckResult Run(ClipTextModel model, string referencePath)
    {
        ArgumentNullException.ThrowIfNull(model);
        var header = SafetensorsFile.ReadHeader(referencePath);
        var outputKey = new[] { "output", "last_hidden_state", "output_fp32" }.FirstOrDefault(header.Tensors.ContainsKey);
        if (!header.Tensors.ContainsKey("input_ids") || outputKey is null)
            throw new InvalidInputException($"{referencePath}: reference lacks tensor '{(outputKey is null ? "output" : "input_ids")}' (expected input_ids, output or last_hidden_state, optional pooler_output and hidden_states.N)");
        var names = header.Names.Where(n => n == "input_ids" || n == outputKey || n == "pooler_output" || n.StartsWith("hidden_states.", StringComparison.Ordinal));
        var reference = SafetensorsFile.Load(header, names);
        try
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            var ids = reference["input_ids"];
            if (ids.dim() != 2 || ids.dtype is not (ScalarType.Int64 or ScalarType.Int32))
                throw new InvalidInputException($"{referencePath}: input_ids has shape [{string.Join(", ", ids.shape)}] and dtype {ids.dtype}, expected int64 [B, L]");
            var wasTraining = model.training;
            model.eval();
            ClipTextOutput output;
            try
            {
                output = model.Encode(ids, outputHiddenStates: true);
            }
            catch (ArgumentException e)
            {
                throw new InvalidInputException($"{referencePath}: the reference input does not fit the model: {e.Message}", e);
            }
            finally
            {
                if (wasTraining) model.train();
            }
            using (output)
            {
                var expected = reference[outputKey];
                if (!expected.shape.SequenceEqual(output.LastHiddenState.shape))
                    throw new InvalidInputException($"{referencePath}: {outputKey} has shape [{string.Join(", ", expected.shape)}], the model produced [{string.Join(", ", output.LastHiddenState.shape)}]");
                var maxAbs = MaxAbsDiff(output.LastHiddenState, expected);
                var maxRef = expected.abs().max().to_type(ScalarType.Float64).item<double>();
                var others = new SortedDictionary<string, double>(StringComparer.Ordinal);
                if (reference.TryGetValue("pooler_output", out var pooled) && pooled.shape.SequenceEqual(output.PoolerOutput.shape))
                    others["pooler_output"] = MaxAbsDiff(output.PoolerOutput, pooled);
                for (var i = 0; i < output.HiddenStates.Count; i++)
                {
                    if (reference.TryGetValue($"hidden_states.{i}", out var want) && want.shape.SequenceEqual(output.HiddenStates[i].shape))
                        others[$"hidden_states.{i}"] = MaxAbsDiff(output.HiddenStates[i], want);
                }
                return new ModelCheckResult(maxAbs, maxRef > 0 ? maxAbs / maxRef : maxAbs, maxRef, others);
            }
        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
        }
    }

    private static double MaxAbsDiff(Tensor a, Tensor b) =>
        (a.cpu().to_type(ScalarType.Float64) - b.cpu().to_type(ScalarType.Float64)).abs().max().item<double>();
}
