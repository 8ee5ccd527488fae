namespace DiffusionSharp.Benchmarks;

/// <summary>How long a benchmark measures: <see cref="Warmup"/> untimed units of work, then about <see cref="Seconds"/> split into <see cref="Windows"/> timed windows.</summary>
/// <param name="Seconds">Total timed seconds (each window runs at least one unit, so a run can take longer).</param>
/// <param name="Windows">Timed windows; the result is the median over windows, so 5 or more give a robust number.</param>
/// <param name="Warmup">Untimed units first (allocator, kernel selection and page faults settle).</param>
public sealed record WindowPlan(double Seconds = 60, int Windows = 5, int Warmup = 3)
{
    /// <summary>Seconds per window.</summary>
    public double WindowSeconds => Seconds / Windows;

    /// <summary>Checks the values, naming the command-line options.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        if (!(Seconds > 0) || !double.IsFinite(Seconds)) throw InvalidInputException.For<WindowPlan>(nameof(Seconds), $" must be a positive number (got {Seconds})");
        if (Windows < 1) throw InvalidInputException.For<WindowPlan>(nameof(Windows), $" must be at least 1 (got {Windows})");
        if (Warmup < 0) throw InvalidInputException.For<WindowPlan>(nameof(Warmup), $" must be 0 or more (got {Warmup})");
    }
}
