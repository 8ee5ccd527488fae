using DiffusionSharp.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Evaluation;

public sealed class FrechetDistanceTests
{
    [Fact]
    public void Should_equal_the_one_dimensional_closed_form()
    {
        // Given N(1, 2²) and N(3, 3²): d² = (μ₁ − μ₂)² + (σ₁ − σ₂)²
        var a = new FeatureStatistics([1.0], [4.0]);
        var b = new FeatureStatistics([3.0], [9.0]);

        Assert.Equal(4 + 1, FrechetDistance.Compute(a, b), 12);
    }

    [Fact]
    public void Should_sum_the_per_dimension_closed_forms_for_diagonal_covariances()
    {
        var a = new FeatureStatistics([0.0, 1.0, -2.0], Diagonal(1.0, 4.0, 0.25));
        var b = new FeatureStatistics([1.0, 1.0, 0.0], Diagonal(9.0, 1.0, 0.0));

        var expected = (1 + 0 + 4) + (1 - 3) * (1 - 3) + (2 - 1) * (2 - 1) + (0.5 - 0) * (0.5 - 0);
        Assert.Equal(expected, FrechetDistance.Compute(a, b), 12);
    }

    [Fact]
    public void Should_match_the_2x2_trace_formula_for_non_commuting_covariances()
    {
        // Given two full 2 x 2 covariances that do not commute
        double[] s1 = [2.0, 0.6, 0.6, 1.0];
        double[] s2 = [1.0, -0.4, -0.4, 3.0];
        var a = new FeatureStatistics([0.5, -1.0], s1);
        var b = new FeatureStatistics([0.0, 1.0], s2);

        // Then Tr (S1 S2)^{1/2} = sqrt(tr(S1 S2) + 2 sqrt(det(S1 S2))), since (√λ₁ + √λ₂)² = λ₁ + λ₂ + 2√(λ₁λ₂)
        double p00 = s1[0] * s2[0] + s1[1] * s2[2], p01 = s1[0] * s2[1] + s1[1] * s2[3];
        double p10 = s1[2] * s2[0] + s1[3] * s2[2], p11 = s1[2] * s2[1] + s1[3] * s2[3];
        var traceSqrt = Math.Sqrt(p00 + p11 + 2 * Math.Sqrt(p00 * p11 - p01 * p10));
        var expected = 0.25 + 4 + s1[0] + s1[3] + s2[0] + s2[3] - 2 * traceSqrt;
        Assert.Equal(expected, FrechetDistance.Compute(a, b), 10);
    }

    [Fact]
    public void Should_handle_singular_covariances_exactly()
    {
        var a = new FeatureStatistics([0.0, 0.0], Diagonal(1.0, 0.0));
        var b = new FeatureStatistics([0.0, 0.0], Diagonal(0.0, 1.0));

        Assert.Equal(2.0, FrechetDistance.Compute(a, b), 12);
    }

    [Fact]
    public void Should_be_zero_for_identical_sets_and_the_squared_shift_for_shifted_ones()
    {
        // Given 500 correlated 16-dimensional feature vectors
        using var scope = NewDisposeScope();
        using var g = new Generator(7);
        var x = randn([500, 16], generator: g).matmul(randn([16, 16], generator: g));
        var shift = randn([16], generator: g);

        // Then the set against itself is 0, and against a shifted copy is ‖shift‖² (same covariance)
        Assert.Equal(0.0, FrechetDistance.Compute(x, x.clone()), 8);
        var expected = shift.to(ScalarType.Float64).square().sum().item<double>();
        Assert.Equal(expected, FrechetDistance.Compute(x, x + shift), 6);
    }

    [Fact]
    public void Should_estimate_mean_and_unbiased_covariance()
    {
        using var features = tensor(new[] { 1.0f, 2.0f, 3.0f, 6.0f }, [2, 2]);

        var stats = FrechetDistance.Statistics(features);

        Assert.Equal([2.0, 4.0], stats.Mean);
        Assert.Equal([2.0, 4.0, 4.0, 8.0], stats.Covariance);
        Assert.Equal(2, stats.Count);
    }

    private static double[] Diagonal(params double[] values)
    {
        var m = new double[values.Length * values.Length];
        for (var i = 0; i < values.Length; i++) m[i * values.Length + i] = values[i];
        return m;
    }
}
