namespace DiffusionSharp.Benchmarks;

/// <summary>Mean time of one phase of a training step in a profile.</summary>
/// <param name="Phase">The phase: data, noise, forward, backward, clip, optimizer, ema.</param>
/// <param name="Ms">Mean milliseconds per step.</param>
/// <param name="Share">Fraction of the whole step.</param>
public sealed record PhaseTime(string Phase, double Ms, double Share);
