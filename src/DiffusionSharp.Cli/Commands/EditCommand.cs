using System.ComponentModel;
using DiffusionSharp.Imaging;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse edit</c>: image-to-image (SDEdit) and inpainting (RePaint) with a trained model.</summary>
public sealed class EditCommand : Command<EditCommand.Settings>
{
    public sealed class Settings : DenoiseSettings
    {


        [CommandOption("--image <FILE>")]
        [Description("The image to edit (PNG or JPEG); resized and centre-cropped to the model's sample_size.")]
        public string? Image { get; init; }

        [CommandOption("--strength <S>")]
        [Description("In (0, 1]]: how far into the noise the image goes before denoising; small keeps it, 1 starts from pure noise.")]
        [DefaultValue(0.6)]
        public double Strength { get; init; } = 0.6;

        [CommandOption("--mask <FILE>")]
        [Description("Inpainting mask of the image's size: white = repaint, black = keep.")]
        public string? Mask { get; init; }

        [CommandOption("--keep-white")]
        [Description("Read the mask the other way round: white = keep, black = repaint.")]
        public bool KeepWhite { get; init; }

        [CommandOption("--resample <R>")]
        [Description("Inpainting with ddpm/ddim: re-noise back and redo each step R times (RePaint); R more model calls per step.")]
        [DefaultValue(0)]
        public int Resample { get; init; }





        [CommandOption("--prompt <TEXT>")]
        [Description("A Stable Diffusion pipeline folder: the prompt the edit is guided by (image-to-image or inpainting in latent space); the image is resized to the pipeline's default size.")]
        public string? Prompt { get; init; }

        [CommandOption("--negative-prompt <TEXT>")]
        [Description("With --prompt: what classifier-free guidance steers away from (default: the empty prompt).")]
        public string? NegativePrompt { get; init; }

        [CommandOption("--class <N|NAME>")]
        [Description("Class-conditional models: the class to steer the edit towards (its number, or its name from the run's class_names.json).")]
        public string? Class { get; init; }


        [CommandOption("--out <PNG>")]
        [Description("The edited image.")]
        [DefaultValue("edited.png")]
        public string Out { get; init; } = "edited.png";

        [CommandOption("--strip <PNG>")]
        [Description("Also write a side-by-side strip: original | (mask) | noised start | result.")]
        public string? Strip { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } bad) return bad;
            if (string.IsNullOrWhiteSpace(Image)) return ValidationResult.Error("--image is required: the image to edit");
            if (!(Strength > 0 && Strength <= 1)) return ValidationResult.Error($"--strength must lie in (0, 1] (got {Strength})");
            if (Resample < 0) return ValidationResult.Error($"--resample must be 0 or more (got {Resample})");
            if (Resample > 0 && Mask is null) return ValidationResult.Error("--resample needs --mask: resampling harmonises a repainted region with the kept one");
            if (KeepWhite && Mask is null) return ValidationResult.Error("--keep-white needs --mask");
            if (NegativePrompt is not null && Prompt is null) return ValidationResult.Error("--negative-prompt needs --prompt (editing with a Stable Diffusion pipeline folder)");
            if (Prompt is not null && Class is not null)
                return ValidationResult.Error("--class cannot be used with --prompt (editing with a Stable Diffusion pipeline)");
            if (Guidance < 0 || !double.IsFinite(Guidance)) return ValidationResult.Error($"--guidance must be a number >= 0 (got {Guidance})");
            return ValidationResult.Success();
        }

        public EditOptions ToOptions() => new() { Strength = Strength, Steps = Steps, Resample = Resample };
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        var options = s.ToOptions();
        options.Validate();
        ImageEditing.CheckSamplerName(s.Sampler);
        CliFiles.CheckExists(s.Image!, "--image");
        if (s.Mask is not null) CliFiles.CheckExists(s.Mask, "--mask");
        CliFiles.CheckWritable(s.Out, "--out");
        if (s.Strip is not null) CliFiles.CheckWritable(s.Strip, "--strip");
        if (s.Prompt is not null) TextToImageSample.CheckConditional(s.Model!);
        else if (StableDiffusionPipeline.IsTextToImageFolder(s.Model!))
            throw new InvalidInputException($"--prompt is required: {s.Model} is a text-to-image pipeline (model_index.json names a text encoder)");
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        if (s.Prompt is not null) return EditWithPrompt(s, options, device, cancellationToken);

        using var pipeline = DiffusionPipeline.Load(s.Model!, s.Ema, s.Sampler, s.Eta, s.Karras, s.TimestepSpacing, device);
        var scheduler = pipeline.Scheduler;
        if (scheduler.Schedule is { } schedule && s.Steps > schedule.NumTrainTimesteps)
            throw new InvalidInputException($"--steps {s.Steps} exceeds the model's {schedule.NumTrainTimesteps} training timesteps");
        using var image = ImageEditing.LoadImage(s.Image!, pipeline);
        using var mask = s.Mask is null ? null : ImageEditing.LoadMask(s.Mask, s.Image!, pipeline, s.KeepWhite);
        long[]? labels = s.Class is { } spec ? [OneClass(spec, pipeline, s.Model!)] : null;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        EditResult result = null!;
        AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask($"{(mask is null ? "editing" : "inpainting")} with {scheduler.Name}", maxValue: options.StepsToRun);
            result = pipeline.Edit(image, options, s.Seed, mask, labels, s.Guidance, scheduler, step =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                task.MaxValue = step.Count; // Heun visits most timesteps twice
                task.Increment(1);
            });
        });
        using (result)
        {
            using var output = result.Image.clamp(-1, 1);
            ImageFile.SavePng(output, s.Out);
            if (s.Strip is { } stripPath) WriteStrip(stripPath, image, mask, result, output, scheduler.Name);
            AnsiConsole.MarkupLineInterpolated(
                $"wrote [green]{s.Out}[/]: {scheduler.Name}, {result.StepsRun} of {s.Steps} steps from t={result.StartTimestep:0.#} (strength {s.Strength}), {result.ModelCalls} model calls, seed {s.Seed}, {clock.Elapsed.TotalSeconds:F1} s");
            if (s.Strip is not null) AnsiConsole.MarkupLineInterpolated($"wrote [green]{s.Strip}[/]");
        }
        return DiffuseApp.Ok;
    }

    /// <summary>The one class <c>--class</c> names (a number or a recorded class name, as <c>sample --class</c> reads it; not 'all' or a list).</summary>
    private static long OneClass(string spec, DiffusionPipeline pipeline, string model)
    {
        var (labels, _, _) = SampleClasses.Resolve(spec, 1, pipeline.NumClasses, 1.0, classNames: ClassNamesFile.Read(model));
        if (spec == SampleClasses.All || labels!.Length != 1)
            throw new InvalidInputException($"--class: an edit steers toward one class (got '{spec}')");
        return labels[0];
    }

    /// <summary>Image-to-image or inpainting with a Stable Diffusion pipeline folder, guided by <c>--prompt</c>.</summary>
    private static int EditWithPrompt(Settings s, EditOptions options, Device device, CancellationToken cancellationToken)
    {
        using var sd = StableDiffusionPipeline.Load(s.Model!, s.Sampler, s.Eta, s.Karras, s.TimestepSpacing, device, s.Ema);
        var scheduler = sd.Scheduler;
        // The image and mask at the pipeline's default size (unet sample_size x the VAE factor), as the other models' edits.
        using var view = DiffusionPipeline.FromModel(sd.Unet, scheduler, sd.Vae);
        using var image = ImageEditing.LoadImage(s.Image!, view);
        using var mask = s.Mask is null ? null : ImageEditing.LoadMask(s.Mask, s.Image!, view, s.KeepWhite);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        EditResult result = null!;
        AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask($"{(mask is null ? "editing" : "inpainting")} with {scheduler.Name}", maxValue: options.StepsToRun);
            result = sd.Edit(s.Prompt!, s.NegativePrompt, s.Guidance, image, options, s.Seed, mask, step =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                task.MaxValue = step.Count;
                task.Increment(1);
            }, t => Console.Error.WriteLine(
                $"warning: --{(t.Index == 0 ? "prompt" : "negative-prompt")} is longer than the tokenizer's {sd.TextEncoder.Tokenizer.ModelMaxLength} tokens and was truncated as diffusers does: {t.Message}"));
        });
        using (result)
        {
            using var output = result.Image.clamp(-1, 1);
            ImageFile.SavePng(output, s.Out);
            if (s.Strip is { } stripPath) WriteStrip(stripPath, image, mask, result, output, scheduler.Name);
            AnsiConsole.MarkupLineInterpolated(
                $"wrote [green]{s.Out}[/]: {scheduler.Name}, {result.StepsRun} of {s.Steps} steps from t={result.StartTimestep:0.#} (strength {s.Strength}), guidance {s.Guidance}, seed {s.Seed}, {clock.Elapsed.TotalSeconds:F1} s");
            if (s.Strip is not null) AnsiConsole.MarkupLineInterpolated($"wrote [green]{s.Strip}[/]");
        }
        return DiffuseApp.Ok;
    }

    private static void WriteStrip(string path, Tensor image, Tensor? mask, EditResult result, Tensor output, string sampler)
    {
        using var scope = NewDisposeScope();
        var columns = new List<Tensor> { image[0] };
        var labels = new List<string> { "original" };
        if (mask is not null)
        {
            // the mask as an image of the model's channels: white = repainted
            columns.Add((mask[0] * 2 - 1).expand(image.shape[1], -1, -1));
            labels.Add("mask");
        }
        columns.Add(result.Noised[0].clamp(-1, 1));
        labels.Add($"noised t={result.StartTimestep:0.#}");
        columns.Add(output[0]);
        labels.Add("result");
        new Filmstrip(labels) { Title = $"diffuse edit ({sampler})" }.AddRow(stack(columns)).SavePng(path);
    }
}
