using DiffusionSharp.Benchmarks;

namespace DiffusionSharp.Tests.Benchmarks;

/// <summary>How <see cref="StepOverhead.Measure"/> lays out its blocks; counts units, never asserts a speed.</summary>
public sealed class StepOverheadTests
{
    [Fact]
    public void Should_run_as_many_bare_units_per_real_step_as_asked_in_every_block()
    {
        // Given a real step said to take 1 s and a budget of 2 s per pair of blocks: one real step per block
        int real = 0, bare = 0;
        var seen = new List<(int Real, int Bare)>();

        // When a real step is worth 1.75 bare units (a Heun step: two network calls but one in the first step)
        var overhead = StepOverhead.Measure(() => { real++; seen.Add((real, bare)); }, () => bare++, realSecondsPerStep: 1,
            budgetSeconds: 8, blocks: 4, bareUnitsPerStep: 1.75);

        // Then every block ran 1 real step and round(1.75) = 2 bare units, real first in even blocks and bare first in odd ones
        Assert.Equal(4, real);
        Assert.Equal(8, bare);
        Assert.Equal([(1, 0), (2, 4), (3, 4), (4, 8)], seen);
        Assert.Equal(4, overhead.Blocks);
        Assert.Equal(1, overhead.StepsPerBlock);
        Assert.True(overhead.RealMsPerStep >= 0 && overhead.BareMsPerStep >= 0);
    }

    [Fact]
    public void Should_refuse_a_bare_share_that_is_not_positive()
    {
        // Given a bare share of 0 units per step, Then the call names the argument
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => StepOverhead.Measure(() => { }, () => { }, 1, 1, 1, bareUnitsPerStep: 0));
        Assert.Equal("bareUnitsPerStep", e.ParamName);
    }
}
