namespace DiffusionSharp.Evaluation;

/// <summary>
/// How the bundled 10,000 MNIST digits are used for evaluation: the classifier trains on the first 8,000; the last
/// 2,000 are held out, measure its accuracy, and are the real-digit reference set of FID-MNIST.
/// </summary>
public static class MnistSplit
{
    /// <summary>Images the classifier is trained on: indices 0 to 7,999.</summary>
    public const int TrainCount = 8_000;

    /// <summary>Held-out images: indices 8,000 to 9,999.</summary>
    public const int HeldOutCount = 2_000;

    /// <summary>Indices of the training images.</summary>
    public static int[] TrainIndices() => Enumerable.Range(0, TrainCount).ToArray();

    /// <summary>Indices of the held-out images.</summary>
    public static int[] HeldOutIndices() => Enumerable.Range(TrainCount, HeldOutCount).ToArray();
}
