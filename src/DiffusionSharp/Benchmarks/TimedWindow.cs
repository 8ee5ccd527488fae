namespace DiffusionSharp.Benchmarks;

/// <summary>One timed window.</summary>
/// <param name="Units">Units of work completed in the window (at least 1).</param>
/// <param name="Seconds">Wall-clock seconds the window took.</param>
public sealed record TimedWindow(int Units, double Seconds)
{
    /// <summary>Seconds per unit in this window.</summary>
    public double SecondsPerUnit => Seconds / Units;
}
