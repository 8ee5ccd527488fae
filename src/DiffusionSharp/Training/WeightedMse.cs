using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>The weighted losses the formulations share: each sample's mean squared error times its weight, averaged over the batch.</summary>
internal static class WeightedMse
{
    /// <summary>mean_b(w_b · mean over the sample's elements of (prediction - target)²), a scalar; samples of any rank.</summary>
    /// <param name="prediction">[B, C, ...].</param>
    /// <param name="target">The same shape.</param>
    /// <param name="weight">[B] weights (moved to the prediction's device).</param>
    public static Tensor Loss(Tensor prediction, Tensor target, Tensor weight)
    {
        using var squared = (prediction - target).square();
        using var perSample = squared.mean(Enumerable.Range(1, (int)prediction.dim() - 1).Select(d => (long)d).ToArray());
        using var weighted = perSample * weight.to(perSample.device);
        return weighted.mean();
    }
}
