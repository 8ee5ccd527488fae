using DiffusionSharp.Conditioning;
using TorchSharp;

namespace DiffusionSharp.Data;

/// <summary>
/// One batch from a <see cref="BatchLoader"/>. The caller owns the tensors (they belong to the dispose scope that was
/// current when the batch was made).
/// </summary>
/// <param name="Samples">float32 <c>[B, C, ...]</c> (images <c>[B, C, H, W]</c>), values in [-1, 1], on the CPU.</param>
/// <param name="Condition">
/// The samples' condition: <see cref="ClassLabelCondition"/> (int64 <c>[B]</c>, null class = the dataset's class count) for a
/// labelled dataset, the dataset's own for an <see cref="IConditionedDataset"/>, otherwise <see cref="NoCondition"/>.
/// </param>
public readonly record struct Batch(torch.Tensor Samples, Condition Condition) : IDisposable
{
    /// <summary>The class labels int64 <c>[B]</c>, or null when the batch has none.</summary>
    public torch.Tensor? Labels => (Condition as ClassLabelCondition)?.Labels;

    /// <summary>Disposes the samples and the condition's tensors.</summary>
    public void Dispose()
    {
        Samples.Dispose();
        Condition.Dispose();
    }
}
