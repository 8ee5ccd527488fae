using System.ComponentModel;
using DiffusionSharp.Benchmarks;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using static DiffusionSharp.Cli.Commands.Bench.BenchReport;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary><c>diffuse bench conv</c>: GFLOP/s of a plain dense 3x3 convolution, the practical ceiling for the U-Net.</summary>
public sealed class BenchConvCommand : Command<BenchConvCommand.Settings>
{
    public sealed class Settings : BenchSettings
    {
        [CommandOption("--batch <B>")]
        [DefaultValue(64)]
        public int Batch { get; init; } = 64;

        [CommandOption("--channels <C>")]
        [Description("Input channels.")]
        [DefaultValue(128)]
        public int Channels { get; init; } = 128;

        [CommandOption("--filters <F>")]
        [Description("Output channels (3x3 filters).")]
        [DefaultValue(128)]
        public int Filters { get; init; } = 128;

        [CommandOption("--size <N>")]
        [Description("Input height and width.")]
        [DefaultValue(28)]
        public int Size { get; init; } = 28;

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } bad) return bad;
            if (Batch < 1) return ValidationResult.Error($"--batch must be at least 1 (got {Batch})");
            if (Channels < 1) return ValidationResult.Error($"--channels must be at least 1 (got {Channels})");
            if (Filters < 1) return ValidationResult.Error($"--filters must be at least 1 (got {Filters})");
            if (Size < 1) return ValidationResult.Error($"--size must be at least 1 (got {Size})");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        var plan = s.Plan(10);
        plan.Validate();
        var shape = new ConvBenchmark.Options(s.Batch, s.Channels, s.Filters, s.Size);
        TorchRuntime.Initialize(s.Threads, s.Device);
        if (!s.Json) AnsiConsole.MarkupLine(Esc($"conv {shape.Batch}x{shape.Channels}x{shape.Size}x{shape.Size} * {shape.Filters} 3x3: {plan.Warmup} warm-up calls, then {plan.Windows} windows over {plan.Seconds:G} s"));
        var r = ConvBenchmark.Run(shape, plan, cancellationToken);
        var machine = MachineInfo.Current();
        if (s.Json)
        {
            WriteJson(new
            {
                Benchmark = "conv",
                Input = new[] { shape.Batch, shape.Channels, shape.Size, shape.Size },
                shape.Filters,
                Kernel = 3,
                Padding = 1,
                GflopsPerCall = shape.FlopsPerCall / 1e9,
                r.MsPerCall,
                GflopsPerSecond = r.GFlopsPerSecond,
                Timing = Timing(r.Timing, "call"),
                Machine = Machine(machine),
            });
            return DiffuseApp.Ok;
        }
        var table = NewTable("bench conv: dense 3x3 convolution forward (inference mode)");
        table.AddRow("input", Esc($"[{shape.Batch}, {shape.Channels}, {shape.Size}, {shape.Size}], {shape.Filters} filters 3x3, padding 1"));
        table.AddRow("GFLOPs per call", Esc(F(shape.FlopsPerCall / 1e9)));
        table.AddRow("[bold]GFLOP/s (median)[/]", Esc($"{F(r.GFlopsPerSecond)}"));
        table.AddRow("ms per call (median)", Esc(F(r.MsPerCall)));
        AddTiming(table, r.Timing, "call", 1e3, "ms per call");
        AddMachine(table, machine);
        AnsiConsole.Write(table);
        return DiffuseApp.Ok;
    }
}
