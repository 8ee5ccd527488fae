using TorchSharp;

namespace DiffusionSharp.Data;

/// <summary>
/// One batch from a <see cref="BatchLoader"/>. The caller owns both tensors (they belong to the dispose scope that
/// was current when the batch was made).
/// </summary>
/// <param name="Images">float32 <c>[B, C, H, W]</c>, values in [-1, 1], on the CPU.</param>
/// <param name="Labels">int64 <c>[B]</c> class labels, or null when the dataset has no labels.</param>
public readonly record struct Batch(torch.Tensor Images, torch.Tensor? Labels) : IDisposable
{
    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels?.Dispose();
    }
}
