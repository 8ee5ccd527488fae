using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffusionSharp.Evaluation;

/// <summary>The quality scores of a set of generated digits (see <see cref="DigitEvaluation.Evaluate"/>).</summary>
/// <param name="SampleCount">Number of generated digits N.</param>
/// <param name="ReferenceCount">Number of real digits in the reference set (2,000 held-out MNIST digits).</param>
/// <param name="FidMnist">
/// Fréchet distance between the classifier's penultimate features of the samples and of the reference set: 0 for the
/// same distribution, larger is worse.
/// </param>
/// <param name="MeanConfidence">Mean over samples of the largest softmax probability, in [0.1, 1]: how digit-like each sample looks.</param>
/// <param name="ClassCounts">How many samples the classifier assigns to each class 0-9.</param>
/// <param name="ClassEntropy">Entropy (nats) of the predicted-class histogram; ln 10 ≈ 2.303 when all ten digits are equally frequent.</param>
/// <param name="Accuracy">Fraction of samples classified as their requested label, or null when no labels were given.</param>
public sealed record DigitEvaluationReport(
    int SampleCount,
    int ReferenceCount,
    double FidMnist,
    double MeanConfidence,
    IReadOnlyList<int> ClassCounts,
    double ClassEntropy,
    double? Accuracy)
{
    /// <summary>The largest possible <see cref="ClassEntropy"/>: ln 10.</summary>
    public static double MaxClassEntropy => Math.Log(10);

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The report as a JSON object with snake_case keys.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Options);
}
