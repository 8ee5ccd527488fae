namespace DiffusionSharp.Benchmarks;

/// <summary>The GFLOP/s a model's throughput is compared with, and where the number came from.</summary>
/// <param name="GFlopsPerSecond">The ceiling.</param>
/// <param name="Source">"measured" (a short <see cref="ConvBenchmark"/> run in the same process, same threads) or "given" (by the caller).</param>
public sealed record PerformanceCeiling(double GFlopsPerSecond, string Source)
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
        var conv = ConvBenchmark.Run(new ConvBenchmark.Options(), new WindowPlan(MeasureSeconds, 5, 1), cancellationToken);
        return new PerformanceCeiling(conv.GFlopsPerSecond, "measured");
    }

    /// <summary>Achieved GFLOP/s as a fraction of the ceiling.</summary>
    public double EfficiencyOf(double achievedGFlopsPerSecond) => achievedGFlopsPerSecond / GFlopsPerSecond;
}
