namespace DiffusionSharp.Benchmarks;

/// <summary>Options of a benchmark that check themselves.</summary>
public interface IBenchmarkOptions
{
    /// <summary>Checks the values; an error names the property.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    void Validate();
}
