using System.ComponentModel;
using DiffusionSharp.Benchmarks;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using static DiffusionSharp.Cli.Commands.Bench.BenchReport;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary>
/// <c>diffuse bench sample</c>: images/s of the sampling loop (random or trained weights; the speed is the same); for a
/// text-to-image pipeline (<c>sd15</c>, <c>text-tiny</c> or a Stable Diffusion folder) one image timed by phase (<see cref="TextToImageBench"/>).
/// </summary>
public sealed class BenchSampleCommand : Command<BenchSampleCommand.Settings>
{
    public sealed class Settings : ModelBenchSettings
    {
        [CommandOption("--sampler <NAME>")]
        [Description("The sampler (default: ddim; for a text-to-image pipeline its own scheduler, PNDM for sd15).")]
        public string? Sampler { get; init; }

        [CommandOption("--steps <N>")]
        [Description("Sampler steps per run (default: 50; 20 for a text-to-image pipeline).")]
        public int? Steps { get; init; }

        [CommandOption("--size <WxH>")]
        [Description("Text-to-image: the image size, both sides multiples of the VAE factor (default: unet sample_size x factor, 512x512 for sd15).")]
        public string? Size { get; init; }

        [CommandOption("--guidance <W>")]
        [Description("Text-to-image: classifier-free guidance scale (default 7.5); above 1 the UNet runs the doubled batch.")]
        public double? Guidance { get; init; }

        [CommandOption("--prompt <TEXT>")]
        [Description("Text-to-image with a pipeline folder: the prompt its tokenizer encodes (presets have no tokenizer and run fixed token ids).")]
        public string? Prompt { get; init; }

        [CommandOption("--seed <N>")]
        [Description("Text-to-image: seed of the random weights (presets) and of the initial latents (default 0).")]
        public long? Seed { get; init; }

        [CommandOption("--profile")]
        [Description("After the runs, replay one network call layer by layer and report its time by op class (convolution, GroupNorm, SiLU, attention, linear).")]
        public bool Profile { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } bad) return bad;
            if (Steps < 1) return ValidationResult.Error($"--steps must be at least 1 (got {Steps})");
            if (TextToImageBench.Handles(Model)) return TextToImageBench.Validate(this);
            foreach (var (given, option) in new[] { (Size is not null, "--size"), (Prompt is not null, "--prompt"), (Guidance is not null, "--guidance"), (Seed is not null, "--seed") })
                if (given) return ValidationResult.Error($"{option} applies to text-to-image pipelines only (--model sd15, text-tiny or a Stable Diffusion folder), not to {Model}");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        s.ApplyAttention();
        if (TextToImageBench.Handles(s.Model)) return TextToImageBench.Run(s, cancellationToken);
        var plan = s.Plan(60);
        plan.Validate();
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        var loaded = BenchModel.Load(s.Model, s.Sampler ?? "ddim", device);
        using var model = loaded.Model;
        using var vae = loaded.Vae;
        s.ApplyLayout(model);
        var options = new SampleBenchmark.Options(s.Model, model, loaded.Scheduler, s.Steps ?? 50, s.Batch ?? 64, s.Profile, vae);
        options.Validate();
        var ceiling = s.MeasureCeiling(cancellationToken);
        if (!s.Json) AnsiConsole.MarkupLine(Esc($"sampling {s.Model} ({loaded.Weights} weights), {loaded.Scheduler.Name} {options.Steps} steps, batch {options.Batch}: whole runs for at least {plan.Seconds:G} s ..."));
        var r = SampleBenchmark.Run(options, plan, ceiling, cancellationToken);
        var around = r.Ceiling.AndAfter(cancellationToken);
        r = r with { Ceiling = around, Ops = r.Ops is null ? null : r.Ops with { Ceiling = around } };
        if (s.Json)
        {
            WriteJson(new
            {
                Benchmark = "sample",
                r.Model,
                loaded.Weights,
                r.Sampler,
                r.Steps,
                r.Batch,
                GflopsPerImage = r.GFlopsPerImage,
                r.ImagesPerSecond,
                r.SecondsPerStep,
                r.SecondsPerNetworkCall,
                r.NetworkCalls,
                r.RunSeconds,
                r.SecondsPerImage,
                Latent = vae is null ? null : new { Vae = vae.ClassName, DecodeSeconds = r.DecodeSeconds, Note = "run_seconds and seconds_per_image include the VAE decode of each run's batch" },
                AchievedGflopsPerSecond = r.AchievedGFlopsPerSecond,
                Ceiling = Ceiling(r.Ceiling),
                r.Efficiency,
                Attention = s.Attention,
                Memory = Memory(r.Memory),
                LeakCheck = LeakCheck(r.Memory, s.MaxRssGrowth),
                StepOverhead = Overhead(r.Overhead),
                Timing = Timing(r.Timing, "sampler step"),
                OpProfile = Ops(r.Ops),
                Machine = Machine(r.Machine),
            });
            return Finish(r.Memory, s.MaxRssGrowth);
        }
        var table = NewTable($"bench sample: {r.Model} ({loaded.Weights} weights), {r.Sampler} {r.Steps} steps, batch {r.Batch}");
        table.AddRow("forward GFLOPs/image", Esc(F(r.GFlopsPerImage)));
        table.AddRow("[bold]images/s (median)[/]", Esc(F(r.ImagesPerSecond)));
        table.AddRow("s per network call", Esc(F(r.SecondsPerNetworkCall)));
        table.AddRow("s per image (whole run)", Esc(F(r.SecondsPerImage) + (vae is null ? "" : ", VAE decode included")));
        table.AddRow("whole runs", Esc($"{r.RunSeconds.Count} run(s): {string.Join(", ", r.RunSeconds.Select(x => F(x) + " s"))}"));
        AddTiming(table, r.Timing, "sampler step", 1, "s per step");
        AddEfficiency(table, r.AchievedGFlopsPerSecond, r.Ceiling, r.Efficiency, "forward FLOPs of the network calls");
        AddMemory(table, r.Memory, "after the first run -> after the last");
        AddOverhead(table, r.Overhead, "the loop's step", "network call");
        AddMachine(table, r.Machine);
        AnsiConsole.Write(table);
        if (r.Ops is { } ops) WriteOps(ops, "one network call by op class (replayed layer by layer)");
        return Finish(r.Memory, s.MaxRssGrowth);
    }
}
