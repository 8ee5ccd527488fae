namespace DiffusionSharp.Benchmarks;

/// <summary>The GFLOP/s a model's throughput is compared with, and where the number came from.</summary>
/// <param name="GFlopsPerSecond">The ceiling.</param>
/// <param name="Source">"measured" (a short <see cref="ConvBenchmark"/> run in the same process, same threads),
/// "measured before and after" (<see cref="AndAfter"/>) or "given" (by the caller).</param>
/// <param name="Probes">The measured probes' GFLOP/s in order (empty when given).</param>
public sealed record PerformanceCeiling(double GFlopsPerSecond, string Source, IReadOnlyList<double>? Probes = null)
{
    /// <summary>Seconds the measured ceiling takes: long enough for a stable median, short next to the benchmark.</summary>
    public const double MeasureSeconds = 3;

    /// <summary>The given value, or a short conv benchmark of the shape at the current thread count.</summary>
    /// <exception cref="InvalidInputException">A given value is not a positive number.</exception>
    public static PerformanceCeiling GivenOrMeasured(double? given, CancellationToken cancellationToken = default)
    {
        if (given is { } g)
        {
            if (!(g > 0) || !double.IsFinite(g)) throw new InvalidInputException($"given must be a positive GFLOP/s figure (got {g})", "PerformanceCeiling.given");
            return new PerformanceCeiling(g, "given");
        }
        var conv = Probe(cancellationToken);
        return new PerformanceCeiling(conv, "measured", [conv]);
    }

    private static double Probe(CancellationToken cancellationToken) =>
        ConvBenchmark.Run(new ConvBenchmark.Options(), new WindowPlan(MeasureSeconds, 5, 1), cancellationToken).GFlopsPerSecond;

    /// <summary>
    /// A measured ceiling probed once more now (after the benchmark's timed windows) and set to the mean of both probes,
    /// so that a machine whose speed drifts during a run (shared hosts do, by 2x between minutes) is divided by the speed
    /// it had around the run, not only before it; a given ceiling is returned as it is.
    /// </summary>
    public PerformanceCeiling AndAfter(CancellationToken cancellationToken = default)
    {
        if (Source != "measured") return this;
        var after = Probe(cancellationToken);
        return new PerformanceCeiling((GFlopsPerSecond + after) / 2, "measured before and after", [GFlopsPerSecond, after]);
    }

    /// <summary>Achieved GFLOP/s as a fraction of the ceiling.</summary>
    public double EfficiencyOf(double achievedGFlopsPerSecond) => achievedGFlopsPerSecond / GFlopsPerSecond;
}
