using DiffusionSharp.IO;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// Runs an autoencoder's <c>forward</c> on a reference input and compares with the reference output, for <c>diffuse model check</c>.
/// The reference is a safetensors file in the golden <c>io.safetensors</c> layout: <c>sample</c> [B, C, H, W], <c>output</c> (or
/// <c>output_fp32</c>) and optionally <c>intermediate.&lt;module&gt;</c> tensors (e.g. <c>intermediate.encoder.mid_block</c>).
/// </summary>
public static class AutoencoderCheck
{
    /// <summary>Compares <paramref name="model"/>'s <see cref="IAutoencoder.Reconstruct"/> of the reference sample with the reference output.</summary>
    /// <exception cref="InvalidInputException">The reference file is missing a tensor or its shapes do not fit the model.</exception>
    public static ModelCheckResult Run(IAutoencoder model, string referencePath)
    {
        ArgumentNullException.ThrowIfNull(model);
        var header = SafetensorsFile.ReadHeader(referencePath);
        var outputKey = header.Tensors.ContainsKey("output") ? "output" : "output_fp32";
        foreach (var key in new[] { "sample", outputKey })
        {
            if (!header.Tensors.ContainsKey(key))
                throw new InvalidInputException($"{referencePath}: reference lacks tensor '{key}' (expected sample, output, optional intermediate.*)");
        }
        var names = header.Names.Where(n => n == "sample" || n == outputKey || n.StartsWith("intermediate.", StringComparison.Ordinal));
        var reference = SafetensorsFile.Load(header, names);
        try
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            var sample = reference["sample"].to_type(ScalarType.Float32).to(model.Device);
            if (sample.dim() != 4 || sample.shape[1] != model.InChannels)
                throw new InvalidInputException($"{referencePath}: sample has shape [{string.Join(", ", sample.shape)}], the model expects [B, {model.InChannels}, H, W]");
            var module = model.Module;
            var wasTraining = module.training;
            module.eval();
            var intermediates = new Dictionary<string, Tensor>();
            Tensor output;
            try
            {
                output = model.Trace(sample, intermediates);
            }
            catch (ArgumentException e)
            {
                throw new InvalidInputException($"{referencePath}: the reference input does not fit the model: {e.Message}", e);
            }
            finally
            {
                if (wasTraining) module.train();
            }
            return ModelCheck.Compare(referencePath, reference, outputKey, output, intermediates);
        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
        }
    }
}
