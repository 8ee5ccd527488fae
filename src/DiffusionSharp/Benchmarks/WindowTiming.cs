namespace DiffusionSharp.Benchmarks;

/// <summary>
/// The timed windows of a benchmark: how many units of work (training steps, forward passes, sampler steps) each window ran
/// and how long it took. The headline is the median over windows of seconds per unit: robust to a window slowed by other
/// processes; a large <see cref="Spread"/> says the machine was busy.
/// </summary>
/// <param name="WarmupUnits">Untimed units run first.</param>
/// <param name="Windows">The timed windows, in order.</param>
public sealed record WindowTiming(int WarmupUnits, IReadOnlyList<TimedWindow> Windows)
{
    /// <summary>Median over windows of seconds per unit.</summary>
    public double MedianSecondsPerUnit => Median(Windows.Select(w => w.SecondsPerUnit));

    /// <summary>The fastest window's seconds per unit.</summary>
    public double MinSecondsPerUnit => Windows.Min(w => w.SecondsPerUnit);

    /// <summary>The slowest window's seconds per unit.</summary>
    public double MaxSecondsPerUnit => Windows.Max(w => w.SecondsPerUnit);

    /// <summary>(slowest - fastest) / median: 0.05 or less on a quiet machine.</summary>
    public double Spread => (MaxSecondsPerUnit - MinSecondsPerUnit) / MedianSecondsPerUnit;

    /// <summary>Units timed in all windows.</summary>
    public int TimedUnits => Windows.Sum(w => w.Units);

    /// <summary>Seconds in all windows.</summary>
    public double TimedSeconds => Windows.Sum(w => w.Seconds);

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("no values", nameof(values));
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
