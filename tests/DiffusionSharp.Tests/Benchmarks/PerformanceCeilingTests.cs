using DiffusionSharp.Benchmarks;

namespace DiffusionSharp.Tests.Benchmarks;

/// <summary>The efficiency ceiling: a given one stays as given; a measured one is probed again after the run and averaged.</summary>
public sealed class PerformanceCeilingTests
{
    [Fact]
    public void Should_keep_a_given_ceiling_after_the_run()
    {
        // Given a ceiling given by the caller
        var given = PerformanceCeiling.GivenOrMeasured(123);

        // When the run ends, Then nothing is probed and the figure stays
        Assert.Same(given, given.AndAfter());
        Assert.Equal(123, given.GFlopsPerSecond);
        Assert.Empty(given.Probes ?? []);
    }

    [Fact]
    public void Should_average_the_probes_before_and_after_a_run()
    {
        // Given a ceiling measured before a run (here: a made-up first probe of 1e6 GFLOP/s, far above any CPU)
        var before = new PerformanceCeiling(1e6, "measured", [1e6]);

        // When it is probed again after the run
        var around = before.AndAfter();

        // Then both probes are kept and the ceiling is their mean: the second is a real measurement of this machine
        Assert.Equal("measured before and after", around.Source);
        Assert.Equal(2, around.Probes!.Count);
        Assert.Equal(1e6, around.Probes[0]);
        Assert.InRange(around.Probes[1], 0.1, 1e5);
        Assert.Equal((around.Probes[0] + around.Probes[1]) / 2, around.GFlopsPerSecond, 9);
    }
}
