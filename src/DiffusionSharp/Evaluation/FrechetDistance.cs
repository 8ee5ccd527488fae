using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// The Fréchet (2-Wasserstein) distance between two Gaussians fitted to feature sets (Dowson &amp; Landau 1982; as FID,
/// Heusel et al. 2017):
/// <c>d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2})</c>.
/// <para>
/// The matrix square root is taken through symmetric eigen-decompositions only, in float64: Σ₁ Σ₂ is similar to the
/// symmetric PSD matrix M = Σ₁^{1/2} Σ₂ Σ₁^{1/2}, so <c>Tr (Σ₁ Σ₂)^{1/2} = Σᵢ √λᵢ(M)</c>. This is exact for singular
/// covariances too (no added ε), and never produces the complex parts a general <c>sqrtm</c> can. Eigenvalues below 0
/// (rounding) are clamped to 0.
/// </para>
/// </summary>
public static class FrechetDistance
{
    /// <summary>Mean and unbiased covariance of <paramref name="features"/> <c>[N, D]</c> (any float dtype), computed in float64.</summary>
    /// <exception cref="ArgumentException">Not two-dimensional, fewer than 2 rows, or a non-finite value.</exception>
    public static FeatureStatistics Statistics(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dim() != 2 || features.shape[0] < 2 || features.shape[1] < 1)
            throw new ArgumentException($"expected features [N, D] with N ≥ 2, found [{string.Join(", ", features.shape)}]", nameof(features));
        using var scope = NewDisposeScope();
        var x = features.detach().to(ScalarType.Float64, CPU);
        var n = x.shape[0];
        var mean = x.mean([0]);
        var centred = x - mean;
        var covariance = centred.t().matmul(centred).div_(n - 1);
        return new FeatureStatistics(mean.data<double>().ToArray(), covariance.contiguous().data<double>().ToArray(), (int)n);
    }

    /// <summary>The Fréchet distance (squared, as FID reports it) between two Gaussians of the same dimension.</summary>
    /// <exception cref="ArgumentException">The dimensions differ.</exception>
    public static double Compute(FeatureStatistics a, FeatureStatistics b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Dimension != b.Dimension)
            throw new ArgumentException($"expected statistics of one dimension, found {a.Dimension} and {b.Dimension}", nameof(b));
        using var scope = NewDisposeScope();
        var d = a.Dimension;
        var mu1 = tensor(a.Mean.ToArray(), ScalarType.Float64);
        var mu2 = tensor(b.Mean.ToArray(), ScalarType.Float64);
        var s1 = Symmetric(tensor(a.Covariance.ToArray(), [d, d], ScalarType.Float64));
        var s2 = Symmetric(tensor(b.Covariance.ToArray(), [d, d], ScalarType.Float64));

        // 1. ‖μ₁ − μ₂‖²
        var meanTerm = (mu1 - mu2).square().sum().item<double>();
        // 2. Σ₁^{1/2} from Σ₁ = V Λ Vᵀ: V Λ^{1/2} Vᵀ
        var (lambda, v) = linalg.eigh(s1);
        var sqrtS1 = (v * lambda.clamp_min(0).sqrt().unsqueeze(0)).matmul(v.t());
        // 3. Tr (Σ₁ Σ₂)^{1/2} = Σ √λ(Σ₁^{1/2} Σ₂ Σ₁^{1/2})
        var m = Symmetric(sqrtS1.matmul(s2).matmul(sqrtS1));
        var traceSqrt = linalg.eigvalsh(m).clamp_min(0).sqrt().sum().item<double>();
        var trace = s1.trace().item<double>() + s2.trace().item<double>();
        // Rounding can leave a tiny negative value for identical sets; the distance is ≥ 0 by definition.
        return Math.Max(0, meanTerm + trace - 2 * traceSqrt);
    }

    /// <summary>The Fréchet distance between the Gaussians fitted to two feature sets <c>[N, D]</c> and <c>[M, D]</c>.</summary>
    public static double Compute(Tensor a, Tensor b) => Compute(Statistics(a), Statistics(b));

    private static Tensor Symmetric(Tensor m) => (m + m.t()) * 0.5;
}
