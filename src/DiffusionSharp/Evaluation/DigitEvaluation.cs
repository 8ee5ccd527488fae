using DiffusionSharp.Data;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Scores generated MNIST-like digits with a <see cref="DigitClassifier"/>: FID-MNIST against real held-out digits,
/// mean classifier confidence, class histogram and its entropy (mode coverage), and accuracy against requested labels.
/// The reference statistics are computed once per instance, on first use.
/// </summary>
public sealed class DigitEvaluation : IDisposable
{
    /// <summary>
    /// Fewest samples accepted: the Fréchet distance fits a 128 x 128 covariance, and from fewer vectors its estimate
    /// is dominated by sampling error.
    /// </summary>
    public const int MinSamples = 100;

    private const int BatchSize = 500;

    private readonly bool _ownsClassifier;
    private readonly Lazy<FeatureStatistics> _reference;

    /// <summary>An evaluation with <paramref name="classifier"/> and the reference digits <paramref name="referenceImages"/>.</summary>
    /// <param name="classifier">The feature extractor and classifier.</param>
    /// <param name="referenceImages">Real digits <c>[M, 1, 28, 28]</c> in [-1, 1], M ≥ <see cref="MinSamples"/>; not kept after the statistics are computed.</param>
    /// <param name="ownsClassifier">Dispose the classifier with this object.</param>
    public DigitEvaluation(DigitClassifier classifier, Tensor referenceImages, bool ownsClassifier = false)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(referenceImages);
        CheckSamples(referenceImages, "reference images");
        Classifier = classifier;
        _ownsClassifier = ownsClassifier;
        ReferenceCount = (int)referenceImages.shape[0];
        var reference = referenceImages.detach().clone();
        _reference = new Lazy<FeatureStatistics>(() =>
        {
            using (reference) return FrechetDistance.Statistics(ExtractFeatures(reference));
        });
    }

    /// <summary>
    /// The standard evaluation: the classifier in <paramref name="classifierDirectory"/> (default: the shipped one, see
    /// <see cref="ShippedClassifier"/>) against the 2,000 held-out bundled MNIST digits (<see cref="MnistSplit"/>).
    /// </summary>
    /// <exception cref="InvalidInputException">The classifier or the bundled MNIST cannot be found or read.</exception>
    public static DigitEvaluation Open(string? classifierDirectory = null)
    {
        var classifier = DigitClassifier.Load(classifierDirectory ?? ShippedClassifier.Directory);
        try
        {
            using var reference = DigitClassifierTrainer.ReadImages(IdxDataset.Mnist(), MnistSplit.HeldOutIndices());
            return new DigitEvaluation(classifier, reference, ownsClassifier: true);
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>The classifier used.</summary>
    public DigitClassifier Classifier { get; }

    /// <summary>Number of reference digits.</summary>
    public int ReferenceCount { get; }

    /// <summary>Mean and covariance of the reference digits' features (computed on first use, then cached).</summary>
    public FeatureStatistics ReferenceStatistics => _reference.Value;

    /// <summary>Scores <paramref name="samples"/>.</summary>
    /// <param name="samples">Generated digits <c>[N, 1, 28, 28]</c>, float, values in [-1, 1], N ≥ <see cref="MinSamples"/>.</param>
    /// <param name="labels">The class requested for each sample (length N), or null.</param>
    /// <exception cref="InvalidInputException">Fewer than <see cref="MinSamples"/> samples, another shape, or labels of another length or outside 0-9.</exception>
    public DigitEvaluationReport Evaluate(Tensor samples, IReadOnlyList<int>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        CheckSamples(samples, "samples");
        var n = (int)samples.shape[0];
        var numClasses = Classifier.Config.NumClasses;
        if (labels is not null)
        {
            if (labels.Count != n) throw new InvalidInputException($"labels: expected one per sample ({n}), found {labels.Count}");
            for (var i = 0; i < n; i++)
            {
                if (labels[i] < 0 || labels[i] >= numClasses)
                    throw new InvalidInputException($"labels: label {i + 1} is {labels[i]}; expected 0 to {numClasses - 1}");
            }
        }

        using var scope = NewDisposeScope();
        var features = ExtractFeatures(samples);
        double fid;
        double meanConfidence;
        long[] predicted;
        using (no_grad())
        {
            fid = FrechetDistance.Compute(FrechetDistance.Statistics(features), ReferenceStatistics);
            var probabilities = F.softmax(Classifier.Head(features), 1);
            var (confidence, classes) = probabilities.max(1);
            meanConfidence = confidence.to(ScalarType.Float64).mean().item<double>();
            predicted = classes.data<long>().ToArray();
        }

        var counts = new int[numClasses];
        foreach (var c in predicted) counts[c]++;
        // Entropy of the predicted-class histogram: ln 10 for perfect coverage, 0 when one digit is all the model draws.
        var entropy = counts.Where(c => c > 0).Sum(c => (double)c / n * Math.Log((double)n / c));
        double? accuracy = labels is null ? null : (double)predicted.Where((c, i) => c == labels[i]).Count() / n;
        return new DigitEvaluationReport(n, ReferenceCount, fid, meanConfidence, counts, entropy, accuracy);
    }

    /// <summary>Disposes the classifier when this object owns it.</summary>
    public void Dispose()
    {
        if (_ownsClassifier) Classifier.Dispose();
    }

    private Tensor ExtractFeatures(Tensor images)
    {
        Classifier.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = images.detach().to(ScalarType.Float32, CPU);
        return cat(x.split(BatchSize).Select(Classifier.Features).ToList(), 0).MoveToOuterDisposeScope();
    }

    private static void CheckSamples(Tensor images, string what)
    {
        var s = images.shape;
        const int side = DigitClassifier.ImageSize;
        if (s.Length != 4 || s[1] != 1 || s[2] != side || s[3] != side)
            throw new InvalidInputException($"{what}: expected digits [N, 1, {side}, {side}], found [{string.Join(", ", s)}]");
        if (s[0] < MinSamples)
            throw new InvalidInputException(
                $"{what}: expected at least {MinSamples} images, found {s[0]}; with fewer, the Fréchet distance's 128 x 128 covariance estimate would be meaningless");
        if (!images.is_floating_point()) throw new InvalidInputException($"{what}: expected floating-point values in [-1, 1], found {images.dtype}");
    }
}
