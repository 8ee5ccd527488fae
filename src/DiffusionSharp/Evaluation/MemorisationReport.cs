namespace DiffusionSharp.Evaluation;

/// <summary>How close each generated sample comes to the training set (see <see cref="Memorisation.Check"/>).</summary>
/// <param name="Distances">
/// Per sample, the RMS pixel distance to its nearest training image, ‖x − y‖₂ / √D over the D = C·H·W values in
/// [-1, 1]: 0 for an exact copy; saving a sample as an 8-bit PNG moves each value by at most 1/255 ≈ 0.004.
/// </param>
/// <param name="NearestIndices">Per sample, the dataset index of that nearest training image.</param>
/// <param name="Threshold">The RMS distance below which a sample counts as a near-copy.</param>
/// <param name="TrainingCount">Number of training images searched.</param>
public sealed record MemorisationReport(IReadOnlyList<double> Distances, IReadOnlyList<int> NearestIndices, double Threshold, int TrainingCount)
{
    /// <summary>Number of samples N.</summary>
    public int SampleCount => Distances.Count;

    /// <summary>Samples whose nearest training image is closer than <see cref="Threshold"/>.</summary>
    public int NearCopyCount => Distances.Count(d => d < Threshold);

    /// <summary><see cref="NearCopyCount"/> / N: the fraction of samples that are near-copies of a training image.</summary>
    public double NearCopyFraction => SampleCount == 0 ? 0 : (double)NearCopyCount / SampleCount;

    /// <summary>The median of <see cref="Distances"/>.</summary>
    public double MedianDistance
    {
        get
        {
            var sorted = Distances.Order().ToArray();
            if (sorted.Length == 0) return double.NaN;
            int mid = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }
    }
}
