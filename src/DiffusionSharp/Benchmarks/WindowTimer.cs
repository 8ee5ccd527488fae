using System.Diagnostics;

namespace DiffusionSharp.Benchmarks;

/// <summary>Runs a unit of work in timed windows after a warm-up.</summary>
public static class WindowTimer
{
    /// <summary>Runs <paramref name="unit"/> <see cref="WindowPlan.Warmup"/> times untimed.</summary>
    public static void Warmup(Action unit, WindowPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentNullException.ThrowIfNull(plan);
        for (int i = 0; i < plan.Warmup; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            unit();
        }
    }

    /// <summary>
    /// Runs <paramref name="unit"/> in <see cref="WindowPlan.Windows"/> windows; each window repeats the unit until
    /// <see cref="WindowPlan.WindowSeconds"/> have passed (at least once). Call <see cref="Warmup"/> first.
    /// <paramref name="afterWindow"/>, when given, runs after each window, outside its time (e.g. to read the RSS).
    /// </summary>
    public static WindowTiming Measure(Action unit, WindowPlan plan, Action? afterWindow = null, CancellationToken cancellationToken = default) =>
        Measure(unit, plan, afterWindow, goOn: null, cancellationToken);

    /// <summary>
    /// <see cref="Measure(Action, WindowPlan, Action?, CancellationToken)"/> where <paramref name="goOn"/>, when given, turns
    /// this process's "the window is not over yet" into the decision every process of a distributed benchmark takes
    /// together (rank 0's clock decides), so they all run the same units.
    /// </summary>
    public static WindowTiming Measure(Action unit, WindowPlan plan, Action? afterWindow, Func<bool, bool>? goOn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentNullException.ThrowIfNull(plan);
        var windows = new List<TimedWindow>(plan.Windows);
        var clock = new Stopwatch();
        for (int w = 0; w < plan.Windows; w++)
        {
            int units = 0;
            clock.Restart();
            do
            {
                cancellationToken.ThrowIfCancellationRequested();
                unit();
                units++;
            }
            while (goOn is null ? clock.Elapsed.TotalSeconds < plan.WindowSeconds : goOn(clock.Elapsed.TotalSeconds < plan.WindowSeconds));
            windows.Add(new TimedWindow(units, clock.Elapsed.TotalSeconds));
            afterWindow?.Invoke();
        }
        return new WindowTiming(plan.Warmup, windows);
    }

    /// <summary>
    /// Windows from the durations of units timed elsewhere (e.g. the steps of sampling runs): the first
    /// <paramref name="warmup"/> are dropped and the rest split into <paramref name="windows"/> runs of consecutive units
    /// of about equal count (fewer windows if there are fewer units).
    /// </summary>
    public static WindowTiming FromDurations(IReadOnlyList<double> unitSeconds, int warmup, int windows)
    {
        ArgumentNullException.ThrowIfNull(unitSeconds);
        var timed = unitSeconds.Skip(warmup).ToArray();
        if (timed.Length == 0) throw new ArgumentException($"no units left after {warmup} warm-up units", nameof(unitSeconds));
        int count = Math.Min(windows, timed.Length);
        var result = new List<TimedWindow>(count);
        for (int w = 0; w < count; w++)
        {
            int start = w * timed.Length / count, end = (w + 1) * timed.Length / count;
            result.Add(new TimedWindow(end - start, timed[start..end].Sum()));
        }
        return new WindowTiming(warmup, result);
    }
}
