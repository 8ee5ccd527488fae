using System.Text.Json;
using DiffusionSharp.Imaging;
using DiffusionSharp.IO;
using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// Re-runs a recorded diffusers text-to-image run and compares every step, for <c>diffuse model check</c> on a pipeline
/// folder. The reference is the golden <c>sd_chain/chain.safetensors</c> layout: <c>initial_noise</c> <c>[1, C, h, w]</c>,
/// <c>timesteps</c> <c>[N]</c>, <c>step{i}.latents_out</c>, <c>image</c> <c>[1, 3, H, W]</c>, <c>image_uint8</c> <c>[1, H, W, 3]</c>,
/// <c>cond_input_ids</c> / <c>uncond_input_ids</c> <c>[1, 77]</c>; the prompt, negative prompt and guidance scale come from the
/// <c>chain.json</c> beside it (safetensors holds no strings).
/// </summary>
public static class StableDiffusionChainCheck
{
    /// <summary>The settings file expected beside the reference.</summary>
    public const string SettingsFileName = "chain.json";

    /// <summary>Runs the pipeline with the reference's prompt, noise, step count and guidance and compares.</summary>
    /// <param name="pipeline">The loaded pipeline (its own scheduler).</param>
    /// <param name="referencePath">The chain safetensors.</param>
    /// <param name="latentRelTolerance">Per step the latents may differ by this · max(1, max |reference|) (golden README: 1e-4).</param>
    /// <param name="imageTolerance">Allowed max abs error of the decoded image (golden README: 1e-3).</param>
    /// <exception cref="InvalidInputException">The reference or its chain.json lacks a tensor or key, or its shapes do not fit the pipeline.</exception>
    public static StableDiffusionChainCheckResult Run(StableDiffusionPipeline pipeline, string referencePath, double latentRelTolerance = 1e-4, double imageTolerance = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        var settings = ReadSettings(referencePath);
        var header = SafetensorsFile.ReadHeader(referencePath);
        int steps = header.Tensors.TryGetValue("timesteps", out var ts) && ts.Shape.Count == 1 ? (int)ts.Shape[0]
            : throw new InvalidInputException($"{referencePath}: reference lacks a 1-d tensor 'timesteps' (expected the sd_chain layout)");
        string[] names = ["initial_noise", "timesteps", "image", "image_uint8", "cond_input_ids", "uncond_input_ids", .. Enumerable.Range(0, steps).Select(i => $"step{i}.latents_out")];
        foreach (var n in names)
            if (!header.Tensors.ContainsKey(n)) throw new InvalidInputException($"{referencePath}: reference lacks tensor '{n}' (expected the sd_chain layout)");
        var reference = SafetensorsFile.Load(header, names);
        try
        {
            var noise = reference["initial_noise"];
            if (noise.dim() != 4 || noise.shape[0] != 1 || noise.shape[1] != pipeline.Unet.Config.InChannels)
                throw new InvalidInputException($"{referencePath}: initial_noise has shape [{string.Join(", ", noise.shape)}], expected [1, {pipeline.Unet.Config.InChannels}, h, w]");
            int f = pipeline.VaeScaleFactor;
            using var result = pipeline.Generate(settings.Prompt, settings.NegativePrompt, settings.Guidance, steps,
                (int)noise.shape[2] * f, (int)noise.shape[3] * f, initialNoise: noise);
            var expectedTimesteps = reference["timesteps"].to_type(ScalarType.Float64).data<double>().ToArray();
            if (!expectedTimesteps.SequenceEqual(result.Timesteps))
                throw new InvalidInputException($"{referencePath}: the reference's timesteps [{string.Join(", ", expectedTimesteps)}] are not the scheduler's [{string.Join(", ", result.Timesteps)}]; check the folder's scheduler_config.json");
            bool tokens = SameIds(pipeline, settings.Prompt, reference["cond_input_ids"])
                && (settings.Guidance <= 1 || SameIds(pipeline, settings.NegativePrompt ?? "", reference["uncond_input_ids"]));
            var stepErrors = new double[steps];
            var stepTolerances = new double[steps];
            for (int i = 0; i < steps; i++)
            {
                var want = reference[$"step{i}.latents_out"];
                stepErrors[i] = MaxAbsDiff(result.StepLatents[i], want);
                stepTolerances[i] = latentRelTolerance * Math.Max(1.0, want.abs().max().to_type(ScalarType.Float64).item<double>());
            }
            var image = reference["image"];
            if (!image.shape.SequenceEqual(result.Image.shape))
                throw new InvalidInputException($"{referencePath}: image has shape [{string.Join(", ", image.shape)}], the pipeline produced [{string.Join(", ", result.Image.shape)}]");
            var pixels = PixelImage.FromBatch(result.Image)[0];
            var wantPixels = reference["image_uint8"].to_type(ScalarType.Int64).data<long>().ToArray();
            int pixelDiff = PixelDiff(pixels, wantPixels);
            return new StableDiffusionChainCheckResult(steps, tokens, MaxAbsDiff(result.InitialLatents, noise), stepErrors, stepTolerances,
                MaxAbsDiff(result.Image, image), imageTolerance, pixelDiff);
        }
        finally
        {
            foreach (var t in reference.Values) t.Dispose();
        }
    }

    private sealed record ChainSettings(string Prompt, string? NegativePrompt, double Guidance);

    private static ChainSettings ReadSettings(string referencePath)
    {
        var path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(referencePath))!, SettingsFileName);
        if (!File.Exists(path)) throw new InvalidInputException($"{referencePath}: no {SettingsFileName} beside it (it holds the prompt, negative_prompt and guidance_scale)");
        try
        {
            using var doc = JsonDocument.Parse(JsonFile.ReadText(path, "chain settings"), JsonFile.DocumentOptions);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("prompt", out var prompt) || prompt.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("guidance_scale", out var guidance) || guidance.ValueKind != JsonValueKind.Number)
                throw new InvalidInputException($"{path}: expected an object with a string 'prompt' and a number 'guidance_scale'");
            string? negative = root.TryGetProperty("negative_prompt", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            return new ChainSettings(prompt.GetString()!, negative, guidance.GetDouble());
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON: {e.Message}", e);
        }
    }

    private static bool SameIds(StableDiffusionPipeline pipeline, string prompt, Tensor want) =>
        pipeline.TextEncoder.Tokenizer.Tokenize([prompt]).InputIds.SequenceEqual(want.to_type(ScalarType.Int64).data<long>().ToArray());

    /// <summary>max |ours − reference| over the HWC bytes; ours are CHW.</summary>
    private static int PixelDiff(PixelImage image, long[] wantHwc)
    {
        int c = image.Channels, h = image.Height, w = image.Width, max = 0;
        if (wantHwc.Length != c * h * w) return int.MaxValue;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++)
                    max = Math.Max(max, (int)Math.Abs(image.Pixels[(k * h + y) * w + x] - wantHwc[(y * w + x) * c + k]));
        return max;
    }

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return (a.to_type(ScalarType.Float64) - b.to_type(ScalarType.Float64)).abs().max().item<double>();
    }
}
