using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>
/// Closed forms for the flow-matching and EDM samplers with Gaussian data x0 ~ N(mu, s²) per pixel, where the exact
/// network is known. Flow matching, x_σ = (1 - σ)·x0 + σ·eps: the marginal velocity is
/// v*(x, σ) = (σ - (1 - σ)·s²)/V(σ)·(x - (1 - σ)·mu) - mu with V(σ) = (1 - σ)²·s² + σ², and the ODE dx/dσ = v* is solved by
/// x(σ) = (1 - σ)·mu + sqrt(V(σ)/V(σ_0))·(x(σ_0) - (1 - σ_0)·mu). EDM, x = x0 + σ·eps: the exact denoiser is
/// D*(x; σ) = mu + s²/(s² + σ²)·(x - mu) and x(σ) - mu = (x(σ_0) - mu)·sqrt((s² + σ²)/(s² + σ_0²)); the network's exact output
/// is F = (D* - c_skip·x)/c_out for the input c_in·x it is given. Each sampler's output is compared with the exact end
/// point of its own starting sample.
/// </summary>
public sealed class ContinuousSamplerConvergenceTests(ITestOutputHelper output)
{
    private const double Mu = 1.5, S = 0.5, SigmaData = 0.5;
    private const int Count = 4096;

    /// <remarks>
    /// Measured max errors at 20/40/80/160 steps (then 320): flow-euler 0.145, 0.072, 0.036, 0.018 (first order: 2.0 per
    /// doubling); flow-heun 2.2e-3, 5.5e-4, 1.4e-4, 3.2e-5 (second order: 4.3); edm-euler 0.27, 0.14, 0.069, 0.035 (2.0);
    /// edm-dpmpp-2m 0.096, 0.020, 4.6e-3, 1.1e-3 (second order: 4.2); edm-dpmpp-3m 0.020, 2.3e-3, 9.1e-4, 2.5e-4 and 5.5e-5
    /// at 320 (about 4 per doubling: diffusers' third-order multistep update, which this port follows, does not reach
    /// order 3 on Karras sigmas here, as the VP dpmpp-3m does not on linspace timesteps in <see cref="SamplerConvergenceTests"/>).
    /// </remarks>
    [Theory]
    [InlineData("flow-euler", 0.025, 1.8)]
    [InlineData("flow-heun", 5e-5, 3.5)]
    [InlineData("edm-euler", 0.045, 1.8)]
    [InlineData("edm-dpmpp-2m", 1.5e-3, 3.5)]
    [InlineData("edm-dpmpp-3m", 3.5e-4, 3.0)]
    public void Should_converge_to_the_exact_ode_solution_at_the_samplers_order(string name, double maxErrorAt160, double minLastRatio)
    {
        // Given the exact network of Gaussian data and a deterministic sampler of its formulation
        // When we sample 4096 scalars with 20, 40, 80 and 160 steps
        var errors = new List<double>();
        foreach (int steps in new[] { 20, 40, 80, 160 })
        {
            var (final, exact) = Sample(Create(name), steps);
            errors.Add((final - exact).abs().max().item<float>());
        }
        output.WriteLine($"{name}: max |x - exact| for 20/40/80/160 steps: {string.Join(", ", errors.Select(e => e.ToString("E2")))}");

        // Then the error shrinks at every doubling, at the sampler's order at the last one, and is small at 160 steps
        for (int k = 1; k < errors.Count; k++)
            Assert.True(errors[k] < errors[k - 1], $"{name}: error did not shrink from {errors[k - 1]:E2} to {errors[k]:E2}");
        Assert.True(errors[^2] / errors[^1] >= minLastRatio, $"{name}: doubling the steps divided the error only by {errors[^2] / errors[^1]:F2}");
        Assert.True(errors[^1] < maxErrorAt160, $"{name}: error {errors[^1]:E2} at 160 steps");
    }

    [Theory]
    [InlineData("flow-euler", 100)]
    [InlineData("flow-heun", 10)]
    [InlineData("edm-euler", 100)]
    [InlineData("edm-dpmpp-2m", 40)]
    [InlineData("edm-dpmpp-2m-sde", 50)]
    public void Should_sample_the_data_mean_and_standard_deviation(string name, int steps)
    {
        var (final, _) = Sample(Create(name), steps);
        double mean = final.mean().item<float>(), std = final.std().item<float>();
        output.WriteLine($"{name}: mean {mean:F4}, std {std:F4}");
        Assert.InRange(mean, Mu - 0.03, Mu + 0.03);
        Assert.InRange(std, S - 0.03, S + 0.03);
    }

    [Theory]
    [InlineData("flow-euler", 1)]
    [InlineData("flow-euler", 7)]
    [InlineData("flow-heun", 3)]
    public void Should_land_on_x0_with_the_exact_velocity_of_one_sample(string name, int steps)
    {
        // Given one pair (x0, eps) and a network that always answers its straight-line velocity eps - x0
        using var g = new Generator(12);
        var x0 = randn([2, 1, 4, 4], generator: g);
        var eps = randn([2, 1, 4, 4], generator: g);
        var scheduler = Create(name);

        // When the loop starts from x_1 = eps, Then every Euler or Heun step stays on the line and ends at x0 (up to the
        // float32 rounding of the slope (x - D)/σ, which Heun computes from D = x - σ·v as diffusers does)
        using var final = new SamplingLoop(scheduler, (_, _) => eps - x0).Denoise(eps, steps, generator: null);
        Assert.True((final - x0).abs().max().item<float>() < 1e-4, $"{name}: {(final - x0).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData("edm-euler")]
    [InlineData("edm-dpmpp-2m")]
    [InlineData("edm-dpmpp-3m")]
    public void Should_land_on_x0_with_a_perfect_edm_denoiser(string name)
    {
        // Given a network whose preconditioned output D is x0 itself at every σ
        using var g = new Generator(13);
        var x0 = randn([2, 1, 4, 4], generator: g);
        var scheduler = (EdmScheduler)Create(name);
        scheduler.SetTimesteps(6);
        Tensor Perfect(Tensor input, double t)
        {
            double sigma = Math.Exp(4 * t);
            var x = input / EdmPreconditioning.CIn(sigma, SigmaData);
            return (x0 - x * EdmPreconditioning.CSkip(sigma, SigmaData)) / EdmPreconditioning.COut(sigma, SigmaData, PredictionType.Epsilon);
        }

        // When the loop runs from x_T ~ N(0, σ_max² + 1), Then it ends at x0 (the ODE from a constant D is a straight line)
        using var xT = randn([2, 1, 4, 4], generator: g);
        using var final = new SamplingLoop(scheduler, Perfect).Denoise(xT, 6, generator: null);
        Assert.True((final - x0).abs().max().item<float>() < 1e-4, $"{name}: {(final - x0).abs().max().item<float>()}");
    }

    private static IScheduler Create(string name) =>
        SamplerCatalog.Create(name, SamplerContractTests.BasisFor(SamplerCatalog.Get(name).Capabilities.Formulations[0]) with
        {
            EdmSchedule = new EdmSchedule(SigmaData: SigmaData),
        });

    /// <summary>Runs the loop with the exact network; returns the sample and the exact ODE solution from the same start.</summary>
    private static (Tensor Final, Tensor Exact) Sample(IScheduler scheduler, int steps)
    {
        scheduler.SetTimesteps(steps);
        var timeline = (TimelineScheduler)scheduler;
        var generator = new Generator(7);
        var start = randn([Count, 1, 1, 1], generator: generator) * (float)scheduler.InitNoiseSigma;
        double sigma0 = timeline.Sigmas[0];
        bool flow = scheduler is FlowMatchScheduler;
        var exact = flow
            ? (start - (1 - sigma0) * Mu) / Math.Sqrt(V(sigma0))  * S + Mu
            : (start - Mu) * (S / Math.Sqrt(S * S + sigma0 * sigma0)) + Mu;
        var sample = start;
        var stepGenerator = new Generator(11);
        for (int i = 0; i < scheduler.Timesteps.Count; i++)
        {
            double t = scheduler.Timesteps[i], sigma = timeline.Sigmas[i];
            using var input = scheduler.ScaleModelInput(sample, t);
            using var modelOutput = flow ? ExactVelocity(input, sigma) : ExactF(input, sigma);
            sample = scheduler.Step(modelOutput, t, sample, generator: stepGenerator).PrevSample;
        }
        return (sample, exact);
    }

    private static double V(double sigma) => (1 - sigma) * (1 - sigma) * S * S + sigma * sigma;

    /// <summary>v*(x, σ) of the flow from N(mu, s²) to N(0, 1).</summary>
    private static Tensor ExactVelocity(Tensor x, double sigma) =>
        (x - (1 - sigma) * Mu) * ((sigma - (1 - sigma) * S * S) / V(sigma)) - Mu;

    /// <summary>F = (D* - c_skip·x)/c_out for the network input c_in·x.</summary>
    private static Tensor ExactF(Tensor input, double sigma)
    {
        var x = input / EdmPreconditioning.CIn(sigma, SigmaData);
        var denoised = (x - Mu) * (S * S / (S * S + sigma * sigma)) + Mu;
        return (denoised - x * EdmPreconditioning.CSkip(sigma, SigmaData)) / EdmPreconditioning.COut(sigma, SigmaData, PredictionType.Epsilon);
    }
}
