using System.Diagnostics;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// How much of a step is spent outside the network's own libtorch work: the real step (the trainer's, or the sampling
/// loop's) timed against a bare step that runs only the unavoidable ops on tensors made once beforehand (training:
/// forward, loss, backward and the optimizer step, in one dispose scope; sampling: the network call). The difference is
/// the step's overhead: the batch and its t and noise, the dispose scopes, reading the loss, clipping, the EMA update,
/// the scheduler's arithmetic, and the .NET bookkeeping around them. With micro-batches the bare step still runs the
/// batch whole, so the overhead includes what the chunking costs.
/// </summary>
/// <remarks>
/// The two are run in alternating blocks of equal step counts (real first in even blocks, bare first in odd ones), so a
/// change in the machine's speed hits both alike; the fraction is 1 − the median over blocks of bare / real time. On a
/// machine shared with other work it carries noise of a few percent and can come out slightly below 0 when the overhead
/// is that small.
/// </remarks>
/// <param name="RealMsPerStep">Median over blocks of the real step's milliseconds.</param>
/// <param name="BareMsPerStep">Median over blocks of the bare step's milliseconds.</param>
/// <param name="Fraction">1 − median over blocks of (bare time / real time): the share of a real step that is overhead.</param>
/// <param name="Blocks">Pairs of blocks timed.</param>
/// <param name="StepsPerBlock">Steps of each kind per block.</param>
public sealed record StepOverhead(double RealMsPerStep, double BareMsPerStep, double Fraction, int Blocks, int StepsPerBlock)
{
    /// <summary>The share of the plan's seconds the overhead measurement may take (at least one step of each kind per block).</summary>
    public const double ShareOfPlan = 0.25;

    /// <summary>
    /// Times <paramref name="real"/> against <paramref name="bare"/> in <paramref name="blocks"/> alternating pairs of
    /// blocks, each block about <paramref name="budgetSeconds"/> / (2 · blocks) long judged by <paramref name="realSecondsPerStep"/>.
    /// Run both warm first. When a real step does the work of several bare units (a sampler step of a second-order sampler
    /// makes two network calls), <paramref name="bareUnitsPerStep"/> says how many: a bare block then runs that many units
    /// per real step (rounded, at least one) and its time is scaled back to that many units per step.
    /// </summary>
    public static StepOverhead Measure(Action real, Action bare, double realSecondsPerStep, double budgetSeconds, int blocks,
        CancellationToken cancellationToken = default, double bareUnitsPerStep = 1)
    {
        ArgumentNullException.ThrowIfNull(real);
        ArgumentNullException.ThrowIfNull(bare);
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bareUnitsPerStep);
        int steps = (int)Math.Clamp(budgetSeconds / (2.0 * blocks * Math.Max(realSecondsPerStep, 1e-6)), 1, 100_000);
        int bareUnits = (int)Math.Max(1, Math.Round(steps * bareUnitsPerStep));
        // Seconds of bare work per block, as if it had run exactly bareUnitsPerStep units for each of the block's steps.
        double bareScale = steps * bareUnitsPerStep / bareUnits;
        var realSeconds = new double[blocks];
        var bareSeconds = new double[blocks];
        var clock = new Stopwatch();
        double Time(Action unit, int count)
        {
            clock.Restart();
            for (int i = 0; i < count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                unit();
            }
            return clock.Elapsed.TotalSeconds;
        }
        for (int b = 0; b < blocks; b++)
        {
            if (b % 2 == 0)
            {
                realSeconds[b] = Time(real, steps);
                bareSeconds[b] = Time(bare, bareUnits) * bareScale;
            }
            else
            {
                bareSeconds[b] = Time(bare, bareUnits) * bareScale;
                realSeconds[b] = Time(real, steps);
            }
        }
        double ratio = WindowTiming.Median(Enumerable.Range(0, blocks).Select(b => bareSeconds[b] / realSeconds[b]));
        return new StepOverhead(WindowTiming.Median(realSeconds) / steps * 1e3, WindowTiming.Median(bareSeconds) / steps * 1e3,
            1 - ratio, blocks, steps);
    }
}
