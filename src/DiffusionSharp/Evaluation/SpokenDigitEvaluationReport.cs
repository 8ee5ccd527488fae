using System.Text.Json;

namespace DiffusionSharp.Evaluation;

/// <summary>The scores of a set of clips from <see cref="SpokenDigitEvaluation.Evaluate"/>.</summary>
/// <param name="SampleCount">Clips scored.</param>
/// <param name="FrechetDistance">Fréchet distance of their classifier features against the held-out real clips (0 = same Gaussian).</param>
/// <param name="ReferenceCount">Held-out real clips in the reference set.</param>
/// <param name="MeanConfidence">Mean of the largest softmax probability.</param>
/// <param name="ClassCounts">Clips per predicted class, in the classifier's class order.</param>
/// <param name="Accuracy">Fraction classified as their requested class, or null when the clips carry no labels.</param>
/// <param name="Confusion">
/// With requested classes: clips per requested class (row, the classifier's class order) and predicted class (column); null otherwise.
/// </param>
public sealed record SpokenDigitEvaluationReport(
    int SampleCount, double FrechetDistance, int ReferenceCount, double MeanConfidence, IReadOnlyList<int> ClassCounts, double? Accuracy,
    IReadOnlyList<IReadOnlyList<int>>? Confusion = null)
{
    /// <summary>Per requested class, the fraction of its clips classified as it (null for a class with no clips, or without labels).</summary>
    public IReadOnlyList<double?>? ClassAccuracy => Confusion?.Select((row, c) => row.Sum() is var n and > 0 ? row[c] / (double)n : (double?)null).ToList();

    /// <summary>The report as a JSON object with snake_case keys.</summary>
    public string ToJson() => JsonSerializer.Serialize(new
    {
        samples = SampleCount,
        frechet_distance = FrechetDistance,
        reference_clips = ReferenceCount,
        mean_confidence = MeanConfidence,
        accuracy = Accuracy,
        class_counts = ClassCounts,
        class_accuracy = ClassAccuracy,
        confusion = Confusion,
    }, new JsonSerializerOptions { WriteIndented = true });
}
