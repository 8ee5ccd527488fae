using System.Diagnostics;
using DiffusionSharp.Benchmarks;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;
using DiffusionSharp.Samplers;
using Spectre.Console;
using Spectre.Console.Cli;
using static DiffusionSharp.Cli.Commands.Bench.BenchReport;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary>
/// The text-to-image branch of <c>diffuse bench sample</c>: a <see cref="TextToImagePresets"/> name (random weights, parameter
/// counts checked against the published ones before anything is allocated) or a Stable Diffusion pipeline folder, one image
/// through <see cref="TextToImageBenchmark"/>.
/// </summary>
internal static class TextToImageBench
{
    /// <summary>The prompt a folder's tokenizer encodes when <c>--prompt</c> is not given.</summary>
    public const string DefaultPrompt = "a photo of an astronaut riding a horse on mars";

    /// <summary>Whether <c>--model</c> names a text-to-image preset or a Stable Diffusion pipeline folder.</summary>
    public static bool Handles(string model) => TextToImagePresets.Contains(model) || (Directory.Exists(model) && StableDiffusionPipeline.IsTextToImageFolder(model));

    /// <summary>The options of the sampling-loop benchmark that do not apply to one text-to-image run.</summary>
    public static ValidationResult Validate(BenchSampleCommand.Settings s)
    {
        foreach (var (given, option, why) in new[]
                 {
                     (s.Batch is not null, "--batch", "one image per prompt is run"),
                     (s.Profile, "--profile", "the op profile replays UNet2DModel layers only"),
                     (s.ChannelsLast, "--channels-last", "only a UNet2DModel can run channels-last"),
                     (s.Seconds is not null, "--seconds", "one whole image is run, each step timed"),
                     (s.MaxRssGrowth is not null, "--max-rss-growth", "one run has no settled RSS to compare; the live tensor counts are reported"),
                     (s.Ceiling is not null, "--ceiling", "the achieved GFLOP/s are reported without a ceiling"),
                     (s.Prompt is not null && TextToImagePresets.Contains(s.Model), "--prompt", "a preset has no tokenizer and runs fixed token ids; give a pipeline folder"),
                 })
        {
            if (given) return ValidationResult.Error($"{option} does not apply to the text-to-image benchmark of {s.Model}: {why}");
        }
        if (s.Size is not null && TextToImageSample.ParseSize(s.Size) is null)
            return ValidationResult.Error($"--size must be WxH with positive integers, e.g. 512x512 (got '{s.Size}')");
        if (s.Guidance is { } g && (!double.IsFinite(g) || g < 0)) return ValidationResult.Error($"--guidance must be a number >= 0 (got {g})");
        return ValidationResult.Success();
    }

    public static int Run(BenchSampleCommand.Settings s, CancellationToken cancellationToken)
    {
        if (s.Sampler is not null) SamplerCatalog.Get(s.Sampler);
        var size = s.Size is null ? null : TextToImageSample.ParseSize(s.Size);
        long seed = s.Seed ?? 0;
        int steps = s.Steps ?? 20;
        var preset = TextToImagePresets.Contains(s.Model) ? TextToImagePresets.Get(s.Model) : null;
        PipelineParameterCounts? counted = null;
        if (preset is not null)
        {
            // Refuse a bad size and a wrong architecture before gigabytes of weights are drawn.
            StableDiffusionPipeline.CheckSize(size?.Height ?? preset.DefaultSize, size?.Width ?? preset.DefaultSize, preset.Unet, preset.VaeScaleFactor);
            counted = preset.CountParameters();
            preset.CheckPublished(counted);
        }
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        if (!s.Json) AnsiConsole.MarkupLine(Esc($"building {s.Model} ({(preset is null ? "trained" : "random")} weights) ..."));
        var build = Stopwatch.StartNew();
        StableDiffusionPipeline? folder = null;
        TextToImageComponents? built = null;
        try
        {
            long[] promptIds, negativeIds;
            TextToImageBenchmark.Options options;
            if (preset is not null)
            {
                built = preset.Build(seed, s.Sampler, device);
                var parameters = built.CountParameters();
                if (parameters != counted) throw new InvalidOperationException($"{preset.Name}: the built networks have {parameters}, the meta-device count was {counted}");
                int length = preset.TextEncoder.MaxPositionEmbeddings;
                promptIds = TextToImageBenchmark.FixedPromptIds(length);
                negativeIds = TextToImageBenchmark.EmptyPromptIds(length);
                int h = size?.Height ?? preset.DefaultSize, w = size?.Width ?? preset.DefaultSize;
                options = new(preset.Name, built.TextModel, built.Unet, built.Vae, built.Scheduler, promptIds, negativeIds, steps, h, w, s.Guidance ?? 7.5, seed);
            }
            else
            {
                folder = StableDiffusionPipeline.Load(s.Model, s.Sampler, device: device);
                var tokenizer = folder.TextEncoder.Tokenizer;
                promptIds = tokenizer.Tokenize([s.Prompt ?? DefaultPrompt]).InputIds.ToArray();
                negativeIds = tokenizer.Tokenize([""]).InputIds.ToArray();
                int h = size?.Height ?? folder.DefaultSize, w = size?.Width ?? folder.DefaultSize;
                options = new(s.Model, folder.TextEncoder.Model, folder.Unet, folder.Vae, folder.Scheduler, promptIds, negativeIds, steps, h, w, s.Guidance ?? 7.5, seed);
            }
            options.Validate();
            double buildSeconds = build.Elapsed.TotalSeconds;
            if (!s.Json) AnsiConsole.MarkupLine(Esc($"built in {F(buildSeconds)} s; {options.Width}x{options.Height}, {options.Scheduler.Name} {steps} steps, guidance {options.Guidance:G} ..."));
            var r = TextToImageBenchmark.Run(options, (i, n, seconds) =>
                Console.Error.WriteLine(FormattableString.Invariant($"step {i + 1}/{n}: {seconds:F2} s")), cancellationToken);
            if (s.Json) WriteJson(Report(r, preset, buildSeconds, s.Prompt ?? (preset is null ? DefaultPrompt : null)));
            else WriteTable(r, preset, buildSeconds);
            if (!r.ImageFinite) Console.Error.WriteLine("warning: the decoded image has non-finite values (random weights overflowed); the timings stand but the run is not representative");
            return DiffuseApp.Ok;
        }
        finally
        {
            built?.Dispose();
            folder?.Dispose();
        }
    }

    private static object Report(TextToImageBenchmark.Result r, TextToImagePreset? preset, double buildSeconds, string? prompt) => new
    {
        Benchmark = "sample",
        Kind = "text-to-image",
        Model = r.Name,
        Weights = preset is null ? "trained" : "random",
        TokenIds = preset is null ? "tokenizer" : "fixed (no tokenizer bundled)",
        Prompt = prompt,
        r.Sampler,
        r.Steps,
        r.UnetCalls,
        r.Height,
        r.Width,
        r.Guidance,
        r.UnetBatch,
        Parameters = Counts(r.Parameters),
        PublishedParameters = preset?.Published is { } p ? Counts(p) : null,
        BuildSeconds = buildSeconds,
        r.TextEncodeSeconds,
        UnetStepSeconds = new { Median = r.MedianStepSeconds, Min = r.MinStepSeconds, Max = r.MaxStepSeconds, Each = r.StepSeconds },
        r.DenoiseSeconds,
        r.VaeDecodeSeconds,
        TotalSecondsPerImage = r.TotalSeconds,
        GflopsPerUnetCall = r.GFlopsPerUnetCall,
        UnetGflopsPerSecond = r.UnetGFlopsPerSecond,
        GflopsVaeDecode = r.GFlopsVaeDecode,
        r.ImageFinite,
        Memory = Memory(r.Memory),
        PeakRssByPhaseMib = r.PeakRssByPhaseMiB is { } peaks ? new { peaks.TextEncoder, peaks.Denoise, peaks.VaeDecode } : null,
        r.LoadAverageAtStart,
        Machine = Machine(r.Machine),
    };

    private static object Counts(PipelineParameterCounts c) => new { c.Unet, c.TextEncoder, c.Vae, c.Total };

    private static void WriteTable(TextToImageBenchmark.Result r, TextToImagePreset? preset, double buildSeconds)
    {
        var table = NewTable($"bench sample: {r.Name} ({(preset is null ? "trained" : "random")} weights), {r.Width}x{r.Height}, {r.Sampler} {r.Steps} steps, guidance {r.Guidance:G}");
        table.AddRow("parameters (UNet, text, VAE)", Esc($"{r.Parameters.Unet:N0}, {r.Parameters.TextEncoder:N0}, {r.Parameters.Vae:N0}{(preset?.Published is null ? "" : " (= published)")}"));
        table.AddRow("build", Esc(F(buildSeconds) + " s"));
        table.AddRow("text encoder (2 rows)", Esc(F(r.TextEncodeSeconds) + " s"));
        table.AddRow("[bold]s per UNet step (median)[/]", Esc($"{F(r.MedianStepSeconds)} (min {F(r.MinStepSeconds)}, max {F(r.MaxStepSeconds)}; {r.UnetCalls} UNet call(s) of batch {r.UnetBatch})"));
        table.AddRow("UNet GFLOP/s", Esc($"{F(r.UnetGFlopsPerSecond)} ({F(r.GFlopsPerUnetCall)} GFLOPs per call)"));
        table.AddRow("VAE decode", Esc(F(r.VaeDecodeSeconds) + " s"));
        table.AddRow("[bold]total per image[/]", Esc(F(r.TotalSeconds) + " s"));
        AddMemory(table, r.Memory, "before the text encoder -> after the decode");
        if (r.PeakRssByPhaseMiB is { } p)
            table.AddRow("peak RSS after text / steps / decode", Esc($"{F(p.TextEncoder)} / {F(p.Denoise)} / {F(p.VaeDecode)} MiB"));
        table.AddRow("load average at start", Esc(r.LoadAverageAtStart is { } l ? F(l) : "n/a"));
        AddMachine(table, r.Machine);
        AnsiConsole.Write(table);
    }
}
