using System.Globalization;
using System.Text.Json;
using DiffusionSharp.Benchmarks;
using Spectre.Console;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary>The parts every benchmark report shares, as JSON fragments (snake_case) and table rows.</summary>
internal static class BenchReport
{
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Writes <paramref name="report"/> as one line of JSON on stdout.</summary>
    public static void WriteJson(object report) => Console.Out.WriteLine(JsonSerializer.Serialize(report, JsonOptions));

    public static object Timing(WindowTiming t, string unit) => new
    {
        Unit = unit,
        WarmupUnits = t.WarmupUnits,
        Windows = t.Windows.Select(w => new { w.Units, w.Seconds }).ToArray(),
        MedianSecondsPerUnit = t.MedianSecondsPerUnit,
        MinSecondsPerUnit = t.MinSecondsPerUnit,
        MaxSecondsPerUnit = t.MaxSecondsPerUnit,
        t.Spread,
    };

    public static object? Overhead(StepOverhead? o) => o is null ? null : new
    {
        o.Fraction,
        o.RealMsPerStep,
        o.BareMsPerStep,
        o.Blocks,
        o.StepsPerBlock,
    };

    public static object Ceiling(PerformanceCeiling c) => new { GflopsPerSecond = c.GFlopsPerSecond, c.Source, Probes = c.Probes ?? [] };

    public static object Memory(MemoryUse m) => new
    {
        PeakRssMib = m.PeakRssMiB,
        RssStartMib = m.RssStartMiB,
        RssEndMib = m.RssEndMiB,
        RssGrowthMib = m.RssGrowthMiB,
        RssAfterWindowsMib = m.RssAfterWindowsMiB,
        SettledRssGrowthMib = m.SettledRssGrowthMiB,
        m.LiveTensorsStart,
        m.LiveTensorsEnd,
    };

    public static object Machine(MachineInfo m) => new { m.Cores, m.Cpu, m.Os, m.Threads, Torchsharp = m.TorchSharp, Libtorch = m.LibTorch, Dotnet = m.DotNet, m.LoadAverage };

    public static object? Ops(OpBreakdown? b) => b is null ? null : new
    {
        MeasuredMs = b.MeasuredMs,
        OtherMs = b.OtherMs,
        OtherShare = b.OtherMs / b.MeasuredMs,
        Ops = b.Ops.Select(o => new
        {
            o.Op,
            o.Calls,
            o.Ms,
            Share = b.ShareOf(o),
            Gflops = o.GFlops,
            GflopsPerSecond = o.GFlopsPerSecond,
            Efficiency = b.EfficiencyOf(o),
        }).ToArray(),
    };

    /// <summary>The op-class breakdown as a table: time, share, and GFLOP/s against the ceiling where the class has FLOPs.</summary>
    public static void WriteOps(OpBreakdown b, string title)
    {
        var table = new Table().Title(title).AddColumns("op class", "layers", "ms", "share", "GFLOP/s", "of ceiling");
        foreach (var o in b.Ops)
        {
            bool flops = o.GFlops > 0;
            table.AddRow(o.Op, o.Calls.ToString(System.Globalization.CultureInfo.InvariantCulture), F(o.Ms), Esc($"{b.ShareOf(o):P1}"),
                flops ? F(o.GFlopsPerSecond) : "", flops ? Esc($"{b.EfficiencyOf(o):P0}") : "");
        }
        table.AddRow("other (elementwise, resampling, loss, autograd)", "", F(b.OtherMs), Esc($"{b.OtherMs / b.MeasuredMs:P1}"), "", "");
        table.AddRow("[bold]measured[/]", "", F(b.MeasuredMs), "100%", "", "");
        for (int i = 1; i < 6; i++) table.Columns[i].RightAligned();
        AnsiConsole.Write(table);
    }

    public static object? LeakCheck(MemoryUse m, double? maxGrowth) =>
        maxGrowth is { } limit ? new { MaxRssGrowthMib = limit, Passed = LeakCheckPassed(m, limit) } : null;

    /// <summary>No tensor left alive and the settled resident set grew by at most <paramref name="maxGrowth"/> MiB.</summary>
    public static bool LeakCheckPassed(MemoryUse m, double maxGrowth) => m.LiveTensorGrowth <= 0 && !(m.SettledRssGrowthMiB > maxGrowth);

    /// <summary>Exit code after the report: <see cref="DiffuseApp.CheckFailed"/> with a one-line message when a requested leak check failed.</summary>
    public static int Finish(MemoryUse m, double? maxGrowth)
    {
        if (maxGrowth is not { } limit || LeakCheckPassed(m, limit)) return DiffuseApp.Ok;
        Console.Error.WriteLine(FormattableString.Invariant(
            $"diffuse: error: leak check failed: RSS grew by {(m.SettledRssGrowthMiB is { } g ? g.ToString("F1", CultureInfo.InvariantCulture) : "n/a")} MiB (limit {limit} MiB), live tensors {m.LiveTensorsStart} -> {m.LiveTensorsEnd}"));
        return DiffuseApp.CheckFailed;
    }

    /// <summary>A two-column table of labelled values.</summary>
    public static Table NewTable(string title) => new Table().Title(title).AddColumn("").AddColumn(new TableColumn("").LeftAligned()).HideHeaders();

    public static void AddTiming(Table table, WindowTiming t, string unit, double scale, string scaledUnit)
    {
        table.AddRow($"{scaledUnit} (min / max)", Esc($"{F(t.MinSecondsPerUnit * scale)} / {F(t.MaxSecondsPerUnit * scale)}"));
        table.AddRow("windows", Esc($"{t.Windows.Count} windows, {t.TimedUnits} {unit}s in {t.TimedSeconds:F1} s after {t.WarmupUnits} warm-up; spread {t.Spread:P0}"));
    }

    public static void AddEfficiency(Table table, double achieved, PerformanceCeiling c, double efficiency, string how)
    {
        table.AddRow("achieved GFLOP/s", Esc($"{F(achieved)} ({how})"));
        table.AddRow("ceiling GFLOP/s", Esc($"{F(c.GFlopsPerSecond)} ({c.Source}: dense 3x3 conv)"));
        table.AddRow("efficiency", Esc($"{efficiency:P1}"));
    }

    public static void AddMemory(Table table, MemoryUse m, string span)
    {
        table.AddRow("peak RSS", Esc(m.PeakRssMiB is { } p ? $"{p:F0} MiB" : "n/a"));
        table.AddRow($"RSS {span}", Esc(m.RssStartMiB is { } a && m.RssEndMiB is { } b ? $"{a:F0} -> {b:F0} MiB ({b - a:+0.0;-0.0;0} MiB)" : "n/a"));
        if (m.RssAfterWindowsMiB.Count > 0) table.AddRow("RSS after each window", Esc($"{string.Join(", ", m.RssAfterWindowsMiB.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))} MiB"));
        table.AddRow("live tensors", Esc($"{m.LiveTensorsStart} -> {m.LiveTensorsEnd}"));
    }

    public static void AddOverhead(Table table, StepOverhead? o, string real, string bare)
    {
        if (o is null) return;
        table.AddRow("step overhead", Esc($"{o.Fraction:P1}: {real} {F(o.RealMsPerStep)} ms against {F(o.BareMsPerStep)} ms bare ({bare} only), {o.Blocks} x {o.StepsPerBlock} steps each"));
    }

    public static void AddMachine(Table table, MachineInfo m)
    {
        table.AddRow("threads", Esc($"{m.Threads} of {m.Cores} cores{(m.LoadAverage is { } l ? $" (load average {l:F2} at the end)" : "")}"));
        table.AddRow("machine", Esc($"{m.Cpu}; {m.Os}"));
        table.AddRow("versions", Esc($"TorchSharp {m.TorchSharp}, libtorch {m.LibTorch}, {m.DotNet}"));
    }

    /// <summary>A number with three significant digits or more, invariant culture.</summary>
    public static string F(double value) => value switch
    {
        >= 100 => value.ToString("F0", CultureInfo.InvariantCulture),
        >= 10 => value.ToString("F1", CultureInfo.InvariantCulture),
        >= 1 => value.ToString("F2", CultureInfo.InvariantCulture),
        _ => value.ToString("G3", CultureInfo.InvariantCulture),
    };

    public static string Esc(FormattableString s) => Markup.Escape(FormattableString.Invariant(s));

    public static string Esc(string s) => Markup.Escape(s);
}
