using DiffusionSharp.Benchmarks;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using static DiffusionSharp.Cli.Commands.Bench.BenchReport;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary><c>diffuse bench forward</c>: milliseconds per forward pass under inference mode.</summary>
public sealed class BenchForwardCommand : Command<ModelBenchSettings>
{
    public override int Execute(CommandContext context, ModelBenchSettings s, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        s.ApplyAttention();
        var plan = s.Plan(10);
        plan.Validate();
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        var loaded = BenchModel.Load(s.Model, device: device);
        using var model = loaded.Model;
        s.ApplyLayout(model);
        var options = new ForwardBenchmark.Options(s.Model, model, s.Batch ?? 1);
        options.Validate();
        var ceiling = s.MeasureCeiling(cancellationToken);
        if (!s.Json) AnsiConsole.MarkupLine(Esc($"forward {s.Model} ({loaded.Weights} weights), batch {options.Batch}: {plan.Warmup} warm-up passes, then {plan.Windows} windows over {plan.Seconds:G} s ..."));
        var r = ForwardBenchmark.Run(options, plan, ceiling, cancellationToken);
        r = r with { Ceiling = r.Ceiling.AndAfter(cancellationToken) };
        if (s.Json)
        {
            WriteJson(new
            {
                Benchmark = "forward",
                r.Model,
                loaded.Weights,
                r.Parameters,
                r.Batch,
                GflopsPerImage = r.GFlopsPerImage,
                r.MsPerForward,
                r.ImagesPerSecond,
                AchievedGflopsPerSecond = r.AchievedGFlopsPerSecond,
                Ceiling = Ceiling(r.Ceiling),
                r.Efficiency,
                Attention = s.Attention,
                Memory = Memory(r.Memory),
                LeakCheck = LeakCheck(r.Memory, s.MaxRssGrowth),
                Timing = Timing(r.Timing, "forward pass"),
                Machine = Machine(r.Machine),
            });
            return Finish(r.Memory, s.MaxRssGrowth);
        }
        var table = NewTable($"bench forward: {r.Model} ({loaded.Weights} weights), batch {r.Batch}, inference mode");
        table.AddRow("parameters", Esc($"{r.Parameters:N0}"));
        table.AddRow("forward GFLOPs/image", Esc(F(r.GFlopsPerImage)));
        table.AddRow("[bold]ms per forward (median)[/]", Esc(F(r.MsPerForward)));
        table.AddRow("images/s", Esc(F(r.ImagesPerSecond)));
        AddTiming(table, r.Timing, "forward pass", 1e3, "ms per forward");
        AddEfficiency(table, r.AchievedGFlopsPerSecond, r.Ceiling, r.Efficiency, "forward FLOPs");
        AddMemory(table, r.Memory, "over the windows");
        AddMachine(table, r.Machine);
        AnsiConsole.Write(table);
        return Finish(r.Memory, s.MaxRssGrowth);
    }
}
