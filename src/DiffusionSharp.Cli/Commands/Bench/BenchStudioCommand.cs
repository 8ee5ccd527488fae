using System.ComponentModel;
using DiffusionSharp.Runtime;
using DiffusionSharp.Studio;
using Spectre.Console;
using Spectre.Console.Cli;
using static DiffusionSharp.Cli.Commands.Bench.BenchReport;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary><c>diffuse bench studio</c>: time from Generate to the first step image, and per step, as the Generate page sees them.</summary>
public sealed class BenchStudioCommand : Command<BenchStudioCommand.Settings>
{
    /// <summary><c>diffuse sample</c>'s sampling options, plus how many images and runs.</summary>
    public sealed class Settings : DenoiseSettings
    {
        [CommandOption("--count <N>")]
        [Description("Images per generation.")]
        [DefaultValue(16)]
        public int Count { get; init; } = 16;

        [CommandOption("--class <N|all>")]
        [Description("A class, or all (one row of each), for a class-conditional model.")]
        public string? Class { get; init; }

        [CommandOption("--runs <N>")]
        [Description("Generations timed after the first one (which loads the model).")]
        [DefaultValue(3)]
        public int Runs { get; init; } = 3;

        [CommandOption("--json")]
        [Description("Print one JSON object on stdout instead of the table (and nothing else).")]
        public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        var options = new StudioBenchmark.Options(s.Model!, s.Ema, s.Sampler, s.Steps, s.Count, s.Class, s.Guidance, s.Seed, s.Eta, s.Karras, s.Spacing, s.Runs);
        options.Validate();
        TorchRuntime.Initialize(s.Threads, s.Device);
        if (!s.Json) AnsiConsole.MarkupLine(Esc($"generating {s.Count} images in {s.Steps} steps through a studio on the loopback, 1 + {s.Runs} times ..."));
        var r = StudioBenchmark.RunAsync(options, cancellationToken).GetAwaiter().GetResult();
        bool leaked = r.LiveTensorsAfterLast > r.LiveTensorsAfterFirst;
        if (s.Json)
        {
            WriteJson(new
            {
                Benchmark = "studio",
                Model = s.Model,
                r.Sampler,
                s.Steps,
                s.Count,
                s.Guidance,
                FirstRun = new { r.Cold.FirstStepMs, MedianStepMs = r.Cold.MedianStepMs, r.Cold.DoneMs },
                FirstStepMs = r.FirstStepMs,
                StepMs = r.StepMs,
                r.MaxStepMs,
                DoneMs = r.Warm.Select(w => w.DoneMs).ToArray(),
                LiveTensors = new { r.LiveTensorsAfterFirst, r.LiveTensorsAfterLast, Passed = !leaked },
                Machine = Machine(r.Machine),
            });
        }
        else
        {
            var table = NewTable($"bench studio: {s.Model}, {r.Sampler} {s.Steps} steps, {s.Count} images, guidance {F(s.Guidance)}");
            table.AddRow("first run (loads the model)", Esc($"first step image {F(r.Cold.FirstStepMs)} ms, median step {F(r.Cold.MedianStepMs)} ms, done {F(r.Cold.DoneMs)} ms"));
            table.AddRow("[bold]first step image (median)[/]", Esc($"{F(r.FirstStepMs)} ms"));
            table.AddRow("[bold]per step (median)[/]", Esc($"{F(r.StepMs)} ms (slowest {F(r.MaxStepMs)} ms)"));
            table.AddRow("whole runs", Esc($"{string.Join(", ", r.Warm.Select(w => F(w.DoneMs) + " ms"))}"));
            table.AddRow("live tensors", Esc($"{r.LiveTensorsAfterFirst} after the first run -> {r.LiveTensorsAfterLast} after the last"));
            AddMachine(table, r.Machine);
            AnsiConsole.Write(table);
        }
        if (!leaked) return DiffuseApp.Ok;
        Console.Error.WriteLine($"diffuse: error: leak check failed: the studio's live tensors grew from {r.LiveTensorsAfterFirst} to {r.LiveTensorsAfterLast}");
        return DiffuseApp.CheckFailed;
    }
}
