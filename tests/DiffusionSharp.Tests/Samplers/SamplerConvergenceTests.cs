using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>
/// Closed-form checks with Gaussian data x_0 ~ N(mu, s²) per pixel, where the exact noise predictor is known:
/// eps*(x_t, t) = (x_t - sqrt(ᾱ)·mu)·sqrt(1 - ᾱ)/(ᾱ·s² + 1 - ᾱ). The probability-flow ODE is then linear in the VE
/// variable x = x_t/sqrt(ᾱ): x(σ) - mu = (x(σ_max) - mu)·sqrt(s² + σ²)/sqrt(s² + σ_max²), so each sampler's output
/// can be compared with the exact end point of its own starting sample.
/// </summary>
public sealed class SamplerConvergenceTests(ITestOutputHelper output)
{
    private const double Mu = 1.5, S = 0.5;
    private const int Count = 4096;

    /// <remarks>
    /// Measured max errors at 5/10/20/40 steps (linear schedule, linspace/leading spacing): euler 1.07, 0.54, 0.27, 0.136
    /// (first order); heun 0.99, 0.17, 0.038, 0.0088; dpmpp-2m 0.89, 0.37, 0.090, 0.0069; dpmpp-3m 0.89, 0.36, 0.082,
    /// 0.031 (third-order extrapolation over the very uneven λ steps of linspace spacing near t = 0); pndm 0.36, 0.036,
    /// 0.0024, 0.00013.
    /// </remarks>
    [Theory]
    [InlineData("euler", 0.15, 1.8)]
    [InlineData("heun", 0.01, 3.5)]
    [InlineData("dpmpp-2m", 0.01, 3.5)]
    [InlineData("dpmpp-3m", 0.035, 2.0)]
    [InlineData("pndm", 2e-4, 8.0)]
    public void Should_converge_to_the_exact_ode_solution_as_steps_grow(string name, double maxErrorAt40, double minLastRatio)
    {
        // Given the exact noise predictor of Gaussian data and a deterministic sampler
        var errors = new List<double>();
        foreach (int steps in new[] { 5, 10, 20, 40 })
        {
            // When we sample 4096 scalars with more and more steps
            var (final, exact) = Sample(name, steps);
            errors.Add((final - exact).abs().max().item<float>());
        }
        output.WriteLine($"{name}: max |x - exact| for 5/10/20/40 steps: {string.Join(", ", errors.Select(e => e.ToString("E2")))}");

        // Then the error against the exact ODE end point shrinks at the sampler's order, and is small at 40 steps
        for (int k = 1; k < errors.Count; k++)
            Assert.True(errors[k] < errors[k - 1], $"{name}: error did not shrink from {errors[k - 1]:E2} to {errors[k]:E2}");
        Assert.True(errors[^2] / errors[^1] >= minLastRatio, $"{name}: doubling the steps divided the error only by {errors[^2] / errors[^1]:F2}");
        Assert.True(errors[^1] < maxErrorAt40, $"{name}: error {errors[^1]:E2} at 40 steps");
    }

    [Theory]
    [InlineData("dpmpp-2m", 20)]
    [InlineData("dpmpp-2m-sde", 50)]
    [InlineData("euler", 200)]
    [InlineData("euler-ancestral", 200)]
    [InlineData("heun", 20)]
    [InlineData("pndm", 20)]
    public void Should_sample_the_data_mean_and_standard_deviation(string name, int steps)
    {
        // Given the exact noise predictor of N(1.5, 0.5²)
        // When we sample 4096 scalars (first-order samplers need more steps)
        var (final, _) = Sample(name, steps);

        // Then the sample mean and standard deviation match the data distribution
        double mean = final.mean().item<float>(), std = final.std().item<float>();
        output.WriteLine($"{name}: mean {mean:F4}, std {std:F4}");
        Assert.InRange(mean, Mu - 0.03, Mu + 0.03);
        Assert.InRange(std, S - 0.03, S + 0.03);
    }

    /// <summary>Runs the loop; returns the final sample and the exact ODE end point of the same starting noise.</summary>
    private static (Tensor Final, Tensor Exact) Sample(string name, int steps)
    {
        var config = new NoiseScheduleConfig();
        var scheduler = SamplerRegistry.Create(name, config);
        var sigmaTable = SigmaSchedules.SigmaTable(NoiseSchedule.Create(config).AlphasCumprod);
        scheduler.SetTimesteps(steps);
        var generator = new TorchSharp.torch.Generator(7);
        var noise = randn([Count, 1, 1, 1], generator: generator);
        var sample = noise * (float)scheduler.InitNoiseSigma;

        // the starting point in the VE variable: VP samplers start at x_T = α·x
        double sigmaMax = SigmaSchedules.Interp(scheduler.Timesteps[0], sigmaTable);
        var startVe = scheduler.InitNoiseSigma == 1.0 ? sample * Math.Sqrt(1 + sigmaMax * sigmaMax) : sample;
        var exact = (startVe - Mu) * (S / Math.Sqrt(S * S + sigmaMax * sigmaMax)) + Mu;

        var stepGenerator = new TorchSharp.torch.Generator(11);
        foreach (var t in scheduler.Timesteps)
        {
            using var input = scheduler.ScaleModelInput(sample, t);
            using var eps = ExactEpsilon(input, SigmaSchedules.Interp(t, sigmaTable));
            sample = scheduler.Step(eps, t, sample, generator: stepGenerator).PrevSample;
        }
        return (sample, exact);
    }

    /// <summary>eps*(x_t) for x_0 ~ N(mu, s²) at noise level σ (ᾱ = 1/(1 + σ²)).</summary>
    private static Tensor ExactEpsilon(Tensor xT, double sigma)
    {
        double alphaBar = 1 / (1 + sigma * sigma);
        return (xT - Math.Sqrt(alphaBar) * Mu) * (Math.Sqrt(1 - alphaBar) / (alphaBar * S * S + 1 - alphaBar));
    }
}
