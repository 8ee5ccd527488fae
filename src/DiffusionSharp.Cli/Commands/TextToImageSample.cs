using System.Globalization;
using DiffusionSharp.Imaging;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;
using DiffusionSharp.Samplers;
using Spectre.Console;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse sample --prompt</c>: text to image with a Stable Diffusion pipeline folder; one image as its own PNG, several (<c>--count</c>, seeds seed, seed+1, ...) as a grid.</summary>
internal static class TextToImageSample
{
    /// <summary>Parses <c>WxH</c> (e.g. <c>512x512</c>); null when malformed.</summary>
    public static (int Width, int Height)? ParseSize(string text)
    {
        var parts = text.Split('x', 'X');
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h) && w > 0 && h > 0
            ? (w, h) : null;
    }

    public static int Run(SampleCommand.Settings s, CancellationToken cancellationToken)
    {
        CheckConditional(s.Model!);
        CliFiles.CheckWritable(s.Out, "--out");
        if (s.Sampler is not null) SamplerCatalog.Get(s.Sampler);
        var size = s.Size is null ? null : ParseSize(s.Size);
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        using var pipeline = StableDiffusionPipeline.Load(s.Model!, s.Sampler, s.Eta, s.Karras, s.TimestepSpacing, device, s.Ema);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var images = new List<TorchSharp.torch.Tensor>();
        try
        {
            AnsiConsole.Progress().AutoClear(true).Start(ctx =>
            {
                var task = ctx.AddTask($"text to image with {pipeline.Scheduler.Name}", maxValue: s.Count * (double)s.Steps);
                // Image i draws its latents from seed + i: image 0 is diffusers' run with torch.Generator().manual_seed(seed).
                for (int i = 0; i < s.Count; i++)
                {
                    using var result = pipeline.Generate(s.Prompt!, s.NegativePrompt, s.Guidance, s.Steps, size?.Height, size?.Width, s.Seed + i, onStep: _ =>
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        task.Increment(1);
                    });
                    if (i == 0)
                        foreach (var t in result.Truncations)
                            Console.Error.WriteLine($"warning: --{(t.Index == 0 ? "prompt" : "negative-prompt")} is longer than the tokenizer's {pipeline.TextEncoder.Tokenizer.ModelMaxLength} tokens and was truncated as diffusers does: {t.Message}");
                    images.Add(result.Image.clone());
                }
            });
            using var batch = TorchSharp.torch.cat(images, 0);
            // One image is written as it is (H x W, as diffusers saves it); several as a grid.
            if (images.Count == 1) ImageFile.SavePng(PixelImage.FromBatch(batch)[0], s.Out);
            else ImageGrid.SavePng(batch, s.Out, s.Nrow);
            if (s.Individual is { } dir)
            {
                Directory.CreateDirectory(dir);
                var pixels = PixelImage.FromBatch(batch);
                for (int i = 0; i < pixels.Length; i++) ImageFile.SavePng(pixels[i], Path.Combine(dir, $"{i:D5}.png"));
                // imagefolder-style, as the class-conditional --individual writes it: each file with the prompt it was made from.
                var rows = Enumerable.Range(0, pixels.Length).Select(i => System.Text.Json.JsonSerializer.Serialize(
                    new Dictionary<string, string> { ["file_name"] = $"{i:D5}.png", ["text"] = s.Prompt! }));
                IO.AtomicFile.WriteAllText(Path.Combine(dir, Data.ImageFolderMetadata.FileName), string.Join("\n", rows) + "\n");
            }
        }
        finally
        {
            foreach (var t in images) t.Dispose();
        }
        AnsiConsole.MarkupLineInterpolated(
            $"wrote [green]{s.Out}[/]: {s.Count} image(s), {pipeline.Scheduler.Name} {s.Steps} steps, guidance {s.Guidance}, seed {s.Seed}, {clock.Elapsed.TotalSeconds:F1} s");
        return DiffuseApp.Ok;
    }

    /// <summary>A --prompt needs a text-conditioned pipeline folder; an unconditional or class-conditional one is refused by name.</summary>
    internal static void CheckConditional(string folder)
    {
        if (StableDiffusionPipeline.IsTextToImageFolder(folder)) return;
        var unetConfig = Path.Combine(folder, "unet", UNet2DModel.ConfigFileName);
        var config = File.Exists(unetConfig) ? unetConfig : Path.Combine(folder, UNet2DModel.ConfigFileName);
        string what = File.Exists(config) ? $"a {Denoisers.LoadConfig(config).ClassName} without a text encoder" : "not a Stable Diffusion pipeline folder";
        throw new InvalidInputException($"--prompt: {folder} is {what}; a prompt needs a pipeline folder with text_encoder, tokenizer, unet, vae and scheduler in model_index.json");
    }
}
