using DiffusionSharp.Data;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Reference points that give FID-MNIST and the other scores a scale: the scores of sets whose quality is known, each
/// scored against the held-out reference set like generated samples are.
/// </summary>
public static class DigitCalibration
{
    /// <summary>One calibration set and its scores.</summary>
    public sealed record Entry(string Name, string Description, DigitEvaluationReport Report);

    /// <summary>
    /// Scores, in order: the held-out digits themselves (FID ≈ 0); the first 2,000 training digits (other real digits: the
    /// floor a perfect generator reaches with 2,000 samples); the held-out digits blurred with σ = 1 and σ = 2 pixels;
    /// the held-out digits of classes 0-4 only (half the modes dropped); uniform noise in [-1, 1].
    /// </summary>
    /// <param name="evaluation">An evaluation whose reference set is the held-out digits (see <see cref="DigitEvaluation.Open"/>).</param>
    /// <param name="mnist">The bundled MNIST (<see cref="IdxDataset.Mnist"/>).</param>
    /// <param name="seed">Seed of the noise images.</param>
    public static IReadOnlyList<Entry> Run(DigitEvaluation evaluation, IdxDataset mnist, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        ArgumentNullException.ThrowIfNull(mnist);
        var heldOut = MnistSplit.HeldOutIndices();
        var heldOutLabels = heldOut.Select(mnist.GetLabel).ToArray();
        var train = MnistSplit.TrainIndices().Take(MnistSplit.HeldOutCount).ToArray();
        var entries = new List<Entry>();
        using var scope = NewDisposeScope();
        var real = DigitClassifierTrainer.ReadImages(mnist, heldOut);

        entries.Add(new("held-out", "the 2,000 held-out digits vs themselves", evaluation.Evaluate(real, heldOutLabels)));
        entries.Add(new("train-2000", "the first 2,000 training digits",
            evaluation.Evaluate(DigitClassifierTrainer.ReadImages(mnist, train), train.Select(mnist.GetLabel).ToArray())));
        foreach (var sigma in new[] { 1.0, 2.0 })
            entries.Add(new($"blur-{sigma:0}", $"held-out digits, Gaussian blur σ = {sigma:0} px", evaluation.Evaluate(Blur(real, sigma), heldOutLabels)));
        var half = heldOut.Where(i => mnist.GetLabel(i) < 5).ToArray();
        entries.Add(new("classes-0-4", $"the {half.Length} held-out digits of classes 0-4 only",
            evaluation.Evaluate(DigitClassifierTrainer.ReadImages(mnist, half), half.Select(mnist.GetLabel).ToArray())));
        using var generator = new Generator((ulong)seed);
        var noise = rand([MnistSplit.HeldOutCount, 1, DigitClassifier.ImageSize, DigitClassifier.ImageSize], generator: generator) * 2 - 1;
        entries.Add(new("noise", "2,000 images of uniform noise in [-1, 1]", evaluation.Evaluate(noise)));
        return entries;
    }

    /// <summary>
    /// Gaussian blur of <c>[N, 1, H, W]</c> digits with standard deviation <paramref name="sigma"/> pixels (kernel radius ⌈3σ⌉),
    /// with the border extended by background (-1).
    /// </summary>
    public static Tensor Blur(Tensor images, double sigma)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sigma);
        using var scope = NewDisposeScope();
        var radius = (int)Math.Ceiling(3 * sigma);
        var weights = Enumerable.Range(-radius, 2 * radius + 1).Select(x => (float)Math.Exp(-x * x / (2 * sigma * sigma))).ToArray();
        var sum = weights.Sum();
        var kernel1d = tensor(weights.Select(w => w / sum).ToArray());
        var kernel = kernel1d.outer(kernel1d).reshape(1, 1, 2 * radius + 1, 2 * radius + 1);
        var padded = F.pad(images, [radius, radius, radius, radius], value: -1);
        return F.conv2d(padded, kernel).MoveToOuterDisposeScope();
    }
}
