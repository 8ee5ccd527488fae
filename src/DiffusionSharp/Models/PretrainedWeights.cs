using System.Text.RegularExpressions;
using DiffusionSharp.IO;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>Finds the files of a diffusers model folder and copies validated safetensors weights into a module.</summary>
internal static partial class PretrainedWeights
{
    private const int ListLimit = 8;

    /// <summary>The folder itself, or its <c>unet/</c> sub-folder (pipeline layout).</summary>
    public static (string ConfigPath, string WeightsPath) ResolveFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"{folder}: model folder not found");
        var dir = folder;
        if (!File.Exists(Path.Combine(dir, UNet2DModel.ConfigFileName)) && File.Exists(Path.Combine(folder, "unet", UNet2DModel.ConfigFileName)))
        {
            dir = Path.Combine(folder, "unet");
        }
        var configPath = Path.Combine(dir, UNet2DModel.ConfigFileName);
        if (!File.Exists(configPath))
        {
            throw new InvalidInputException($"{folder}: no {UNet2DModel.ConfigFileName} (nor unet/{UNet2DModel.ConfigFileName}); expected a diffusers UNet2DModel folder");
        }
        var weightsPath = Path.Combine(dir, UNet2DModel.WeightsFileName);
        if (!File.Exists(weightsPath))
        {
            foreach (var pickle in new[] { "diffusion_pytorch_model.bin", "diffusion_pytorch_model.ckpt", "diffusion_pytorch_model.pt" })
            {
                var p = Path.Combine(dir, pickle);
                if (File.Exists(p)) SafetensorsFile.RejectPickle(p);
            }
            throw new InvalidInputException($"{dir}: weights file {UNet2DModel.WeightsFileName} not found");
        }
        return (configPath, weightsPath);
    }

    /// <summary>
    /// Validates every name, shape and dtype in <paramref name="header"/> against <paramref name="module"/>'s state dict, then copies
    /// the weights in (converted to the parameter dtype). Nothing is copied unless everything matches.
    /// </summary>
    /// <remarks>With <c>renameLegacyAttention</c> false the stored names are used as they are (UNet1DModel, whose current names are the legacy ones).</remarks>
    public static void LoadInto(nn.Module module, SafetensorsHeader header, string configPath, bool renameLegacyAttention = true)
    {
        var sourceOf = Check(module, header, configPath, renameLegacyAttention);
        using var noGrad = no_grad();
        foreach (var (name, target) in module.state_dict())
        {
            using var scope = NewDisposeScope();
            var stored = header.ReadTensor(sourceOf[name]);
            target.copy_(stored.to(target.dtype, target.device));
        }
    }

    /// <summary>
    /// Validates every name, shape and dtype in <paramref name="header"/> against <paramref name="module"/>'s state dict
    /// (which may live on the meta device) and returns the stored name of each model weight.
    /// </summary>
    public static Dictionary<string, string> Check(nn.Module module, SafetensorsHeader header, string configPath, bool renameLegacyAttention = true)
    {
        var targets = module.state_dict();
        var sourceOf = renameLegacyAttention ? MapNames(header) : header.Tensors.Keys.ToDictionary(k => k, k => k, StringComparer.Ordinal);

        var missing = targets.Keys.Where(k => !sourceOf.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unexpected = sourceOf.Where(kv => !targets.ContainsKey(kv.Key)).Select(kv => kv.Value).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var wrongShape = new List<string>();
        var wrongDtype = new List<string>();
        foreach (var (name, target) in targets.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!sourceOf.TryGetValue(name, out var stored)) continue;
            var info = header.Tensors[stored];
            if (!info.Shape.SequenceEqual(target.shape))
            {
                wrongShape.Add($"{stored} [{string.Join(", ", info.Shape)}] (model [{string.Join(", ", target.shape)}])");
            }
            if (info.ScalarType is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64))
            {
                wrongDtype.Add($"{stored} {info.DType}");
            }
        }

        var problems = new List<string>();
        if (missing.Count > 0) problems.Add($"{missing.Count} missing: {Join(missing)}");
        if (unexpected.Count > 0) problems.Add($"{unexpected.Count} unexpected: {Join(unexpected)}");
        if (wrongShape.Count > 0) problems.Add($"{wrongShape.Count} wrong shape: {Join(wrongShape)}");
        if (wrongDtype.Count > 0) problems.Add($"{wrongDtype.Count} not floating-point: {Join(wrongDtype)}");
        if (problems.Count > 0)
        {
            throw new InvalidInputException($"{header.Path}: weights do not match {configPath}: {string.Join("; ", problems)}");
        }
        return sourceOf;
    }

    /// <summary>Model name to stored name, renaming diffusers' legacy attention keys like diffusers' loader does.</summary>
    private static Dictionary<string, string> MapNames(SafetensorsHeader header)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var stored in header.Tensors.Keys)
        {
            // Older transformers checkpoints store CLIP's constant position_ids buffer; transformers ignores it on load.
            if (stored == ClipTextModel.LegacyPositionIdsKey) continue;
            var name = LegacyAttention().Replace(stored, m => m.Groups[1].Value + m.Groups[2].Value switch
            {
                "query" => "to_q",
                "key" => "to_k",
                "value" => "to_v",
                _ => "to_out.0",
            } + m.Groups[3].Value);
            if (!map.TryAdd(name, stored))
            {
                throw new InvalidInputException($"{header.Path}: both '{map[name]}' and '{stored}' map to weight '{name}' (legacy and current attention names mixed)");
            }
        }
        return map;
    }

    private static string Join(List<string> items) =>
        string.Join(", ", items.Take(ListLimit)) + (items.Count > ListLimit ? $", ... and {items.Count - ListLimit} more" : "");

    [GeneratedRegex(@"^(.*\.attentions\.\d+\.)(query|key|value|proj_attn)(\.(?:weight|bias))$")]
    private static partial Regex LegacyAttention();
}
