using DiffusionSharp.Conditioning;
using DiffusionSharp.IO;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// Runs a model on a reference input and compares with the reference output, for <c>diffuse model check</c>.
/// The reference is a safetensors file with <c>sample</c> [B, C, ...], <c>timestep</c> [B] (or scalar), optional <c>class_labels</c> [B],
/// for a UNet2DConditionModel <c>encoder_hidden_states</c> [B, L, D] and optional <c>encoder_attention_mask</c> [B, L],
/// <c>output</c> (or <c>output_fp32</c>) and optionally <c>intermediate.&lt;module&gt;</c> activations, the layout of the golden <c>io.safetensors</c>.
/// </summary>
public static class ModelCheck
{
    /// <summary>Compares <paramref name="model"/>'s output on the reference input with the reference output.</summary>
    /// <exception cref="InvalidInputException">The reference file is missing a tensor or its shapes do not fit the model.</exception>
    /// <remarks>Per-module differences are reported for networks that record their intermediates (<see cref="UNet2DModel.Trace"/>).</remarks>
    public static ModelCheckResult Run(IDenoiser model, string referencePath)
    {
        ArgumentNullException.ThrowIfNull(model);
        var header = SafetensorsFile.ReadHeader(referencePath);
        var outputKey = header.Tensors.ContainsKey("output") ? "output" : "output_fp32";
        foreach (var key in new[] { "sample", "timestep", outputKey })
        {
            if (!header.Tensors.ContainsKey(key))
            {
                throw new InvalidInputException($"{referencePath}: reference lacks tensor '{key}' (expected sample, timestep, output, optional class_labels)");
            }
        }
        if (model is UNet2DConditionModel && !header.Tensors.ContainsKey("encoder_hidden_states"))
        {
            throw new InvalidInputException($"{referencePath}: reference lacks tensor 'encoder_hidden_states', which a UNet2DConditionModel attends to");
        }
        var names = header.Names.Where(n => n is "sample" or "timestep" or "class_labels" or "encoder_hidden_states" or "encoder_attention_mask" || n == outputKey || n.StartsWith("intermediate.", StringComparison.Ordinal));
        var reference = SafetensorsFile.Load(header, names);
        try
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            var sample = reference["sample"].to_type(ScalarType.Float32).to(model.Device);
            if (sample.dim() < 3 || sample.shape[1] != model.Config.InChannels)
            {
                string axes = model.Config.SampleShape?.Count switch { 3 => "H, W", 2 => "L", _ => "..." };
                throw new InvalidInputException($"{referencePath}: sample has shape [{string.Join(", ", sample.shape)}], the model expects [B, {model.Config.InChannels}, {axes}]");
            }
            reference.TryGetValue("class_labels", out var labels);
            var timestep = reference["timestep"].to(model.Device);
            var condition = labels is null ? Condition.None(sample.shape[0]) : new ClassLabelCondition(labels.to(model.Device), model.Config.NumClasses);
            var module = model.Module;
            var wasTraining = module.training;
            module.eval();
            var intermediates = new Dictionary<string, Tensor>();
            Tensor output;
            try
            {
                output = model switch
                {
                    UNet2DModel unet => unet.Trace(sample, timestep, labels, intermediates),
                    UNet2DConditionModel cond => cond.Trace(sample, timestep, reference["encoder_hidden_states"].to_type(ScalarType.Float32).to(model.Device),
                        reference.GetValueOrDefault("encoder_attention_mask")?.to(model.Device), labels?.to(model.Device), intermediates),
                    UNet1DModel unet1d when labels is null => unet1d.Trace(sample, timestep, intermediates),
                    _ => model.Forward(sample, timestep, condition),
                };
            }
            catch (ArgumentException e)
            {
                throw new InvalidInputException($"{referencePath}: the reference input does not fit the model: {e.Message}", e);
            }
            finally
            {
                if (wasTraining) module.train();
            }
            return Compare(referencePath, reference, outputKey, output, intermediates);
        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
        }
    }

    /// <summary>
    /// The comparison every check ends with: <paramref name="output"/> against the reference's <paramref name="outputKey"/>
    /// (shapes must agree), and each recorded intermediate against <c>intermediate.&lt;name&gt;</c> where the reference has it
    /// with the same shape. The intermediates are disposed.
    /// </summary>
    /// <exception cref="InvalidInputException">The output's shape differs from the reference's.</exception>
    internal static ModelCheckResult Compare(string referencePath, IReadOnlyDictionary<string, Tensor> reference, string outputKey, Tensor output,
        IDictionary<string, Tensor> intermediates)
    {
        var expected = reference[outputKey];
        if (!expected.shape.SequenceEqual(output.shape))
        {
            throw new InvalidInputException($"{referencePath}: {outputKey} has shape [{string.Join(", ", expected.shape)}], the model produced [{string.Join(", ", output.shape)}]");
        }
        var maxAbs = MaxAbsDiff(output, expected);
        var maxRef = expected.abs().max().to_type(ScalarType.Float64).item<double>();
        var perModule = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, actual) in intermediates)
        {
            using (actual)
            {
                if (reference.TryGetValue("intermediate." + name, out var want) && want.shape.SequenceEqual(actual.shape))
                {
                    perModule[name] = MaxAbsDiff(actual, want);
                }
            }
        }
        return new ModelCheckResult(maxAbs, maxRef > 0 ? maxAbs / maxRef : maxAbs, maxRef, perModule);
    }

    /// <summary>max |a - b|, compared on the CPU in float64 (the network may run elsewhere).</summary>
    private static double MaxAbsDiff(Tensor a, Tensor b) =>
        (a.cpu().to_type(ScalarType.Float64) - b.cpu().to_type(ScalarType.Float64)).abs().max().item<double>();
}
