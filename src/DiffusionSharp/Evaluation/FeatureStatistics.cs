namespace DiffusionSharp.Evaluation;

/// <summary>
/// Mean and covariance of a set of feature vectors, in double precision: the Gaussian that the Fréchet distance
/// compares. Made by <see cref="FrechetDistance.Statistics"/>, or directly for a known Gaussian.
/// </summary>
public sealed class FeatureStatistics
{
    /// <summary>Wraps a mean and a covariance (copied).</summary>
    /// <param name="mean">μ, length D ≥ 1.</param>
    /// <param name="covariance">Σ, D x D row-major (length D²), symmetric positive semi-definite.</param>
    /// <param name="count">Number of vectors they were estimated from (0 for a given Gaussian).</param>
    /// <exception cref="ArgumentException">Lengths that disagree, or a non-finite value.</exception>
    public FeatureStatistics(IReadOnlyList<double> mean, IReadOnlyList<double> covariance, int count = 0)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(covariance);
        if (mean.Count < 1) throw new ArgumentException("expected a mean of at least one dimension", nameof(mean));
        if (covariance.Count != (long)mean.Count * mean.Count)
            throw new ArgumentException($"expected a {mean.Count} x {mean.Count} covariance ({mean.Count * mean.Count} values), found {covariance.Count}", nameof(covariance));
        if (mean.Any(v => !double.IsFinite(v)) || covariance.Any(v => !double.IsFinite(v)))
            throw new ArgumentException("expected finite statistics, found NaN or infinity", nameof(covariance));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Mean = mean.ToArray();
        Covariance = covariance.ToArray();
        Count = count;
    }

    /// <summary>Number of dimensions D.</summary>
    public int Dimension => Mean.Count;

    /// <summary>μ, length D.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>Σ, D x D row-major (unbiased estimate, divided by N - 1, when estimated).</summary>
    public IReadOnlyList<double> Covariance { get; }

    /// <summary>Number of vectors the statistics were estimated from; 0 when given directly.</summary>
    public int Count { get; }
}
