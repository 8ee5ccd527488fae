using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Evaluation;

/// <summary>The shipped classifier, its held-out reference statistics, and the held-out digits, loaded once per test class.</summary>
public sealed class ShippedEvaluationFixture : IDisposable
{
    public ShippedEvaluationFixture()
    {
        Mnist = IdxDataset.Mnist();
        Evaluation = DigitEvaluation.Open();
        HeldOut = DigitClassifierTrainer.ReadImages(Mnist, MnistSplit.HeldOutIndices());
        HeldOutLabels = MnistSplit.HeldOutIndices().Select(Mnist.GetLabel).ToArray();
    }

    public IdxDataset Mnist { get; }

    public DigitEvaluation Evaluation { get; }

    /// <summary>The 2,000 held-out digits <c>[2000, 1, 28, 28]</c>.</summary>
    public Tensor HeldOut { get; }

    public int[] HeldOutLabels { get; }

    public void Dispose()
    {
        HeldOut.Dispose();
        Evaluation.Dispose();
    }
}
