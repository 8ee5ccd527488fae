using System.Globalization;
using DiffusionSharp.Imaging;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;
using DiffusionSharp.Samplers;
using Spectre.Console;

namespace DiffusionSharp.Cli.Commands;

/// <summary>
/// <c>diffuse sample --prompt</c> / <c>--prompt-file</c>: text to image with a Stable Diffusion pipeline folder; one image as its own
/// PNG, several (<c>--count</c> per prompt, seeds seed, seed+1, ... over the whole run) as a grid with one row per prompt.
/// </summary>
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

    /// <summary>The prompts of a <c>--prompt-file</c>: one per line, blank lines skipped.</summary>
    /// <exception cref="InvalidInputException">The file is missing, unreadable or holds no prompt.</exception>
    public static IReadOnlyList<string> ReadPromptFile(string path)
    {
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"--prompt-file: cannot read {path}: {(e is FileNotFoundException ? "no such file" : e.Message)}");
        }
        var prompts = lines.Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (prompts.Length == 0) throw new InvalidInputException($"--prompt-file: {path} holds no prompt (one per line)");
        return prompts;
    }

    public static int Run(SampleCommand.Settings s, CancellationToken cancellationToken)
    {
        var prompts = s.PromptFile is { } file ? ReadPromptFile(file) : [s.Prompt!];
        CheckConditional(s.Model!);
        CliFiles.CheckWritable(s.Out, "--out");
        if (s.Sampler is not null) SamplerCatalog.Get(s.Sampler);
        var size = s.Size is null ? null : ParseSize(s.Size);
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        using var pipeline = StableDiffusionPipeline.Load(s.Model!, s.Sampler, s.Eta, s.Karras, s.TimestepSpacing, device, s.Ema);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var images = new List<TorchSharp.torch.Tensor>();
        var imagePrompts = new List<string>();
        try
        {
            AnsiConsole.Progress().AutoClear(true).Start(ctx =>
            {
                var task = ctx.AddTask($"text to image with {pipeline.Scheduler.Name}", maxValue: prompts.Count * s.Count * (double)s.Steps);
                // Image i of the run draws its latents from seed + i: image 0 is diffusers' run with torch.Generator().manual_seed(seed),
                // and prompt p's row is what --prompt with --seed seed + p * count gives.
                for (int p = 0; p < prompts.Count; p++)
                    for (int j = 0; j < s.Count; j++)
                    {
                        using var result = pipeline.Generate(prompts[p], s.NegativePrompt, s.Guidance, s.Steps, size?.Height, size?.Width, s.Seed + images.Count, onStep: _ =>
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            task.Increment(1);
                        });
                        if (j == 0)
                            foreach (var t in result.Truncations.Where(t => t.Index == 0 || p == 0))
                                Console.Error.WriteLine($"warning: {(t.Index != 0 ? "--negative-prompt" : s.PromptFile is null ? "--prompt" : $"--prompt-file line '{prompts[p]}'")} is longer than the tokenizer's {pipeline.TextEncoder.Tokenizer.ModelMaxLength} tokens and was truncated as diffusers does: {t.Message}");
                        images.Add(result.Image.clone());
                        imagePrompts.Add(prompts[p]);
                    }
            });
            using var batch = TorchSharp.torch.cat(images, 0);
            // One image is written as it is (H x W, as diffusers saves it); several as a grid.
            if (images.Count == 1) ImageFile.SavePng(PixelImage.FromBatch(batch)[0], s.Out);
            else ImageGrid.SavePng(batch, s.Out, s.Nrow ?? (prompts.Count > 1 ? s.Count : null));
            if (s.Individual is { } dir)
            {
                Directory.CreateDirectory(dir);
                var pixels = PixelImage.FromBatch(batch);
                for (int i = 0; i < pixels.Length; i++) ImageFile.SavePng(pixels[i], Path.Combine(dir, $"{i:D5}.png"));
                // imagefolder-style, as the class-conditional --individual writes it: each file with the prompt it was made from.
                var rows = Enumerable.Range(0, pixels.Length).Select(i => System.Text.Json.JsonSerializer.Serialize(
                    new Dictionary<string, string> { ["file_name"] = $"{i:D5}.png", ["text"] = imagePrompts[i] }));
                IO.AtomicFile.WriteAllText(Path.Combine(dir, Data.ImageFolderMetadata.FileName), string.Join("\n", rows) + "\n");
            }
        }
        finally
        {
            foreach (var t in images) t.Dispose();
        }
        AnsiConsole.MarkupLineInterpolated(
            $"wrote [green]{s.Out}[/]: {images.Count} image(s){(prompts.Count > 1 ? $" of {prompts.Count} prompts" : "")}, {pipeline.Scheduler.Name} {s.Steps} steps, guidance {s.Guidance}, seed {s.Seed}, {clock.Elapsed.TotalSeconds:F1} s");
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
