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
    /// 0.0024, 0.00013; unipc 0.88, 0.36, 0.083, 0.012 (the first-order jump from the last timestep to sigma = 0 and the
    /// errors before it partly cancel, more so for the less accurate dpmpp-2m: see the Karras tests below for the orders).
    /// </remarks>
    [Theory]
    [InlineData("euler", 0.15, 1.8)]
    [InlineData("heun", 0.01, 3.5)]
    [InlineData("dpmpp-2m", 0.01, 3.5)]
    [InlineData("dpmpp-3m", 0.035, 2.0)]
    [InlineData("pndm", 2e-4, 8.0)]
    [InlineData("unipc", 0.015, 5.0)]
    public void Should_converge_to_the_exact_ode_solution_as_steps_grow(string name, double maxErrorAt40, double minLastRatio)
    {
        // Given the exact noise predictor of Gaussian data and a deterministic sampler
        // When we sample 4096 scalars with more and more steps
        var errors = Errors(() => SamplerCatalog.Create(name, new SamplerBasis(new NoiseScheduleConfig())), name, [5, 10, 20, 40]);

        // Then the error against the exact ODE end point shrinks at the sampler's order, and is small at 40 steps
        for (int k = 1; k < errors.Count; k++)
            Assert.True(errors[k] < errors[k - 1], $"{name}: error did not shrink from {errors[k - 1]:E2} to {errors[k]:E2}");
        Assert.True(errors[^2] / errors[^1] >= minLastRatio, $"{name}: doubling the steps divided the error only by {errors[^2] / errors[^1]:F2}");
        Assert.True(errors[^1] < maxErrorAt40, $"{name}: error {errors[^1]:E2} at 40 steps");
    }

    /// <remarks>
    /// Measured max errors at 10/20/40/80 steps: dpmpp-2m 0.20, 0.099, 0.023, 0.0052 (second order: 4.4 per doubling);
    /// unipc 0.27, 0.080, 0.0087, 0.0010 (third order, as UniC adds one: 9.1, 8.5), then 1.2e-4 and 1.7e-5 at 160 and
    /// 320 steps; float32 rounding takes over near 5e-6.
    /// </remarks>
    [Fact]
    public void Should_converge_with_unipc_at_least_as_fast_as_dpmpp_2m()
    {
        // Given UniPC-2 (bh2; its UniP-2 predictor is DPM-Solver++(2M)) and DPM-Solver++(2M) on Karras sigmas, whose λ
        // steps all shrink as N grows (linspace's last ones do not), stopped before the last step: that step jumps
        // from sigma_min to 0 at first order, the same map for both
        var unipc = Errors(() => SamplerCatalog.Create("unipc", new SamplerBasis(new NoiseScheduleConfig()) { KarrasSigmas = true }),
            "unipc, karras, before the last step", [10, 20, 40, 80], stopBeforeLast: true);
        var dpm = Errors(() => SamplerCatalog.Create("dpmpp-2m", new SamplerBasis(new NoiseScheduleConfig()) { KarrasSigmas = true }),
            "dpmpp-2m, karras, before the last step", [10, 20, 40, 80], stopBeforeLast: true);

        // Then past the first few steps UniPC is at least as accurate, and its error falls at least as fast (third order)
        for (int k = 1; k < unipc.Count; k++)
            Assert.True(unipc[k] <= dpm[k], $"{10 << k} steps: unipc error {unipc[k]:E2} > dpmpp-2m error {dpm[k]:E2}");
        double unipcRatio = unipc[^2] / unipc[^1], dpmRatio = dpm[^2] / dpm[^1];
        Assert.True(unipcRatio >= dpmRatio, $"doubling the steps divides the unipc error by {unipcRatio:F1}, the dpmpp-2m one by {dpmRatio:F1}");
        Assert.True(unipcRatio >= 7, $"doubling the steps divides the unipc error only by {unipcRatio:F1} (third order: 8)");
    }

    /// <remarks>
    /// Measured max errors at 80 steps and the ratio 40 → 80 (Karras sigmas, before the last step), each of order p + 1:
    /// data prediction bh2 order 1 0.0097 (4.0), order 2 0.0010 (8.5), order 3 1.6e-4 (16), order 4 2.0e-5 (33); bh1
    /// order 2 0.0017 (9.3); noise prediction bh2 order 2 3.4e-4 (8.4), bh1 order 1 0.0014 (3.5), order 2 6.3e-4 (7.7),
    /// order 3 1.4e-5 (25).
    /// </remarks>
    [Theory]
    [InlineData(UniPCSolverType.Bh2, 1, true, 0.012, 3.5)]
    [InlineData(UniPCSolverType.Bh2, 2, true, 1.5e-3, 7.0)]
    [InlineData(UniPCSolverType.Bh2, 3, true, 2.5e-4, 12.0)]
    [InlineData(UniPCSolverType.Bh2, 4, true, 3e-5, 20.0)]
    [InlineData(UniPCSolverType.Bh1, 2, true, 2.5e-3, 7.0)]
    [InlineData(UniPCSolverType.Bh2, 2, false, 5e-4, 7.0)]
    [InlineData(UniPCSolverType.Bh1, 1, false, 2e-3, 3.0)]
    [InlineData(UniPCSolverType.Bh1, 2, false, 1e-3, 6.5)]
    [InlineData(UniPCSolverType.Bh1, 3, false, 2.5e-5, 12.0)]
    public void Should_converge_in_every_unipc_variant(UniPCSolverType type, int order, bool predictX0, double maxErrorAt80, double minLastRatio)
    {
        // Given UniPC with another B(h), order or parameterisation, on Karras sigmas
        var options = new UniPCMultistepOptions() with { SolverType = type, SolverOrder = order, PredictX0 = predictX0, UseKarrasSigmas = true };
        string label = $"unipc {type} order {order} predict_x0 {predictX0}";

        // When we sample with more and more steps (stopping before the first-order jump to sigma = 0)
        var errors = Errors(() => new UniPCMultistepScheduler(options), label, [10, 20, 40, 80], stopBeforeLast: true);

        // Then the error shrinks at each doubling, at order p + 1
        for (int k = 1; k < errors.Count; k++)
            Assert.True(errors[k] < errors[k - 1], $"{label}: error did not shrink from {errors[k - 1]:E2} to {errors[k]:E2}");
        Assert.True(errors[^2] / errors[^1] >= minLastRatio, $"{label}: doubling the steps divided the error only by {errors[^2] / errors[^1]:F2}");
        Assert.True(errors[^1] < maxErrorAt80, $"{label}: error {errors[^1]:E2} at 80 steps");
    }

    [Theory]
    [InlineData("dpmpp-2m", 20)]
    [InlineData("dpmpp-2m-sde", 50)]
    [InlineData("euler", 200)]
    [InlineData("euler-ancestral", 200)]
    [InlineData("heun", 20)]
    [InlineData("pndm", 20)]
    [InlineData("unipc", 20)]
    public void Should_sample_the_data_mean_and_standard_deviation(string name, int steps)
    {
        // Given the exact noise predictor of N(1.5, 0.5²)
        // When we sample 4096 scalars (first-order samplers need more steps)
        var (final, _) = Sample(SamplerCatalog.Create(name, new SamplerBasis(new NoiseScheduleConfig())), steps);

        // Then the sample mean and standard deviation match the data distribution
        double mean = final.mean().item<float>(), std = final.std().item<float>();
        output.WriteLine($"{name}: mean {mean:F4}, std {std:F4}");
        Assert.InRange(mean, Mu - 0.03, Mu + 0.03);
        Assert.InRange(std, S - 0.03, S + 0.03);
    }

    /// <summary>The max error against the exact solution at each step count, written to the test output.</summary>
    private List<double> Errors(Func<IScheduler> create, string label, int[] stepCounts, bool stopBeforeLast = false)
    {
        var errors = new List<double>();
        foreach (int steps in stepCounts)
        {
            var (final, exact) = Sample(create(), steps, stopBeforeLast);
            errors.Add((final - exact).abs().max().item<float>());
        }
        output.WriteLine($"{label}: max |x - exact| for {string.Join("/", stepCounts)} steps: {string.Join(", ", errors.Select(e => e.ToString("E2")))}");
        return errors;
    }

    /// <summary>
    /// Runs the loop, or all of it but the last step; returns the sample and the exact ODE solution of the same starting
    /// noise at its noise level (0, or the last timestep's), in the sampler's own variable.
    /// </summary>
    private static (Tensor Final, Tensor Exact) Sample(IScheduler scheduler, int steps, bool stopBeforeLast = false)
    {
        var config = scheduler.Schedule!.Config;
        var sigmaTable = SigmaSchedules.SigmaTable(NoiseSchedule.Create(config).AlphasCumprod);
        scheduler.SetTimesteps(steps);
        var generator = new TorchSharp.torch.Generator(7);
        var noise = randn([Count, 1, 1, 1], generator: generator);
        var sample = noise * (float)scheduler.InitNoiseSigma;

        // the starting point in the VE variable: VP samplers start at x_T = α·x
        double sigmaMax = SigmaSchedules.Interp(scheduler.Timesteps[0], sigmaTable);
        double sigmaEnd = stopBeforeLast ? SigmaSchedules.Interp(scheduler.Timesteps[^1], sigmaTable) : 0;
        var startVe = scheduler.InitNoiseSigma == 1.0 ? sample * Math.Sqrt(1 + sigmaMax * sigmaMax) : sample;
        var exact = (startVe - Mu) * Math.Sqrt((S * S + sigmaEnd * sigmaEnd) / (S * S + sigmaMax * sigmaMax)) + Mu;
        if (scheduler.InitNoiseSigma == 1.0) exact /= Math.Sqrt(1 + sigmaEnd * sigmaEnd);

        var stepGenerator = new TorchSharp.torch.Generator(11);
        for (int i = 0; i < scheduler.Timesteps.Count - (stopBeforeLast ? 1 : 0); i++)
        {
            double t = scheduler.Timesteps[i];
            using var input = scheduler.ScaleModelInput(sample, t);
            using var eps = ExactEpsilon(input, SigmaOf(scheduler, i, sigmaTable));
            sample = scheduler.Step(eps, t, sample, generator: stepGenerator).PrevSample;
        }
        return (sample, exact);
    }

    /// <summary>
    /// The noise level of step i: the sampler's own where it has one (Karras sigmas lie between the integer timesteps
    /// the model is given, so the exact predictor takes the sigma, not the timestep), else the table's at the timestep.
    /// </summary>
    private static double SigmaOf(IScheduler scheduler, int i, float[] sigmaTable) => scheduler switch
    {
        UniPCMultistepScheduler unipc => unipc.Sigmas[i],
        DPMSolverMultistepScheduler dpm => dpm.Sigmas[i],
        _ => SigmaSchedules.Interp(scheduler.Timesteps[i], sigmaTable),
    };

    /// <summary>eps*(x_t) for x_0 ~ N(mu, s²) at noise level σ (ᾱ = 1/(1 + σ²)).</summary>
    private static Tensor ExactEpsilon(Tensor xT, double sigma)
    {
        double alphaBar = 1 / (1 + sigma * sigma);
        return (xT - Math.Sqrt(alphaBar) * Mu) * (Math.Sqrt(1 - alphaBar) / (alphaBar * S * S + 1 - alphaBar));
    }
}
