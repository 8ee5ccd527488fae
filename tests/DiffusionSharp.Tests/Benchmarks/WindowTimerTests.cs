using DiffusionSharp.Benchmarks;

namespace DiffusionSharp.Tests.Benchmarks;

public sealed class WindowTimerTests
{
    [Fact]
    public void Should_take_the_median_over_windows_of_seconds_per_unit()
    {
        // Given windows of 1, 2 and 4 s per unit, the last slowed down by another process
        var timing = new WindowTiming(0, [new TimedWindow(2, 2), new TimedWindow(1, 2), new TimedWindow(1, 4)]);

        // Then the median ignores the outlier and the spread shows it
        Assert.Equal(2, timing.MedianSecondsPerUnit);
        Assert.Equal(1.5, timing.Spread);
        Assert.Equal(4, timing.TimedUnits);
        Assert.Equal(2.5, WindowTiming.Median([4, 1, 2, 3]));
    }

    [Fact]
    public void Should_drop_the_warmup_and_split_durations_into_windows_of_consecutive_units()
    {
        // Given 2 warm-up durations and 7 timed ones
        double[] durations = [9, 9, 1, 1, 1, 2, 2, 3, 3];

        // When they are split into 3 windows
        var timing = WindowTimer.FromDurations(durations, warmup: 2, windows: 3);

        // Then the windows hold 2, 2 and 3 units in order
        Assert.Equal([2, 2, 3], timing.Windows.Select(w => w.Units));
        Assert.Equal([2.0, 3.0, 8.0], timing.Windows.Select(w => w.Seconds));
        Assert.Equal(2, timing.WarmupUnits);
    }

    [Fact]
    public void Should_run_every_window_at_least_once()
    {
        // Given a plan far shorter than one unit
        int runs = 0;
        var plan = new WindowPlan(Seconds: 1e-9, Windows: 3, Warmup: 2);

        // When it is measured
        WindowTimer.Warmup(() => runs++, plan);
        var timing = WindowTimer.Measure(() =>
        {
            runs++;
            Thread.Sleep(1);
        }, plan);

        // Then the warm-up ran twice and each window once
        Assert.Equal(5, runs);
        Assert.All(timing.Windows, w => Assert.Equal(1, w.Units));
    }

    [Fact]
    public void Should_read_the_resident_set_on_linux()
    {
        if (!OperatingSystem.IsLinux()) return;
        // Current first: the peak read after it can only be larger (other tests allocate meanwhile).
        var current = ProcessMemory.CurrentRssBytes();
        var peak = ProcessMemory.PeakRssBytes();
        Assert.True(current > 0);
        Assert.True(current <= peak);
    }
}
