using DiffusionSharp.Noising;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>Closed-form properties of DDPM and DDIM that hold for any schedule and model.</summary>
public sealed class SamplerPropertyTests
{
    private static readonly NoiseSchedule Linear = NoiseSchedule.Create(new NoiseScheduleConfig());

    [Theory]
    [InlineData(PredictionType.Epsilon)]
    [InlineData(PredictionType.Sample)]
    [InlineData(PredictionType.VPrediction)]
    public void Should_recover_x0_exactly_with_ddim_eta0_and_a_perfect_predictor(PredictionType type)
    {
        // Given x_t = q_sample(x_0, eps) at DDIM's first timestep and a model that knows x_0
        using var forward = new ForwardProcess(Linear);
        using var g = new Generator(11);
        var x0 = rand([2, 1, 4, 4], generator: g) * 2 - 1;
        var eps = randn([2, 1, 4, 4], generator: g);
        var ddim = new DDIMScheduler(Linear, new DDIMSchedulerOptions { PredictionType = type, Clipping = SampleClipping.None });
        ddim.SetTimesteps(10);
        var xStart = forward.AddNoise(x0, eps, full([2], (long)ddim.Timesteps[0], ScalarType.Int64));
        Tensor PerfectModel(Tensor x, double t)
        {
            var ts = full([2], (long)t, ScalarType.Int64);
            return forward.TrainingTarget(type, x0, forward.PredictNoiseFromStart(x, ts, x0), ts);
        }

        // When deterministic DDIM runs 10 steps
        var result = new SamplingLoop(ddim, PerfectModel).Denoise(xStart, 10, generator: null);

        // Then it lands on x_0 (DDIM eq. 12 keeps x_t on the line through x_0 and eps)
        AssertClose(x0, result, 1e-5);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(1000)]
    public void Should_take_ddpm_fixed_small_steps_when_ddim_eta_is_1(int steps)
    {
        // Given DDPM (fixed_small) and DDIM (eta = 1) over the same schedule, without clipping
        using var forward = new ForwardProcess(Linear);
        var ddpm = new DDPMScheduler(Linear, new DDPMSchedulerOptions { Clipping = SampleClipping.None });
        var ddim = new DDIMScheduler(Linear, new DDIMSchedulerOptions { Eta = 1, Clipping = SampleClipping.None });
        ddpm.SetTimesteps(steps);
        ddim.SetTimesteps(steps);
        using var g = new Generator(12);
        var sample = randn([2, 1, 4, 4], generator: g);
        var modelOutput = randn([2, 1, 4, 4], generator: g);
        var z = randn([2, 1, 4, 4], generator: g);
        var zero = zeros([2, 1, 4, 4]);
        foreach (var t in ddpm.Timesteps.Where((_, i) => i % Math.Max(1, steps / 10) == 0 || i == steps - 1))
        {
            // When both step from the same x_t with the same model output and noise
            var fromDdpm = ddpm.Step(modelOutput, t, sample, z).PrevSample;
            var fromDdim = ddim.Step(modelOutput, t, sample, z).PrevSample;

            // Then the steps agree: DDIM's sigma_t(1) is DDPM's posterior standard deviation (DDIM eq. 16)
            AssertClose(fromDdpm, fromDdim, 2e-5 * Math.Max(1, fromDdpm.abs().max().item<float>()));
            if (steps == 1000 && t >= 10)
            {
                var std = (ddim.Step(modelOutput, t, sample, ones([2, 1, 4, 4])).PrevSample - ddim.Step(modelOutput, t, sample, zero).PrevSample)
                    .mean().item<float>();
                Assert.Equal(forward.PosteriorVariance((int)t), (double)std * std, forward.PosteriorVariance((int)t) * 1e-3);
            }
        }
    }

    [Fact]
    public void Should_need_a_generator_or_noise_only_when_a_step_adds_noise()
    {
        var ddpm = new DDPMScheduler(Linear);
        ddpm.SetTimesteps(10);
        var x = zeros([1, 1, 2, 2]);

        Assert.Throws<ArgumentException>(() => ddpm.Step(x, 100, x));
        Assert.NotNull(ddpm.Step(x, 0, x).PrevSample);
        Assert.Throws<ArgumentException>(() => ddpm.Step(x, 100, x, varianceNoise: zeros([1, 1, 2, 3])));
        var ddim = new DDIMScheduler(Linear);
        ddim.SetTimesteps(10);
        Assert.NotNull(ddim.Step(x, 900, x).PrevSample);
        var noisyDdim = ddim.WithEta(0.5);
        noisyDdim.SetTimesteps(10);
        Assert.Throws<ArgumentException>(() => noisyDdim.Step(x, 900, x));
    }

    [Fact]
    public void Should_reject_a_step_before_set_timesteps_or_off_the_training_grid()
    {
        var ddim = new DDIMScheduler(Linear);
        var x = zeros([1, 1, 2, 2]);
        Assert.Throws<InvalidOperationException>(() => ddim.Step(x, 900, x));
        ddim.SetTimesteps(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => ddim.Step(x, 1000, x));
        Assert.Throws<ArgumentOutOfRangeException>(() => ddim.Step(x, 12.5, x));
    }

    [Fact]
    public void Should_reject_a_steps_offset_that_leaves_the_training_range()
    {
        var ddpm = new DDPMScheduler(Linear, new DDPMSchedulerOptions { StepsOffset = 1 });
        var e = Assert.Throws<InvalidInputException>(() => ddpm.SetTimesteps(1000));
        Assert.StartsWith("steps_offset", e.Message);
    }

    [Fact]
    public void Should_threshold_each_sample_to_its_own_quantile()
    {
        // Given one sample far outside [-1, 1] and one inside
        var x0 = cat([linspace(-4, 4, 16).reshape(1, 1, 4, 4), linspace(-0.5, 0.5, 16).reshape(1, 1, 4, 4)]);
        var clipping = new SampleClipping(Thresholding: true, DynamicThresholdingRatio: 0.9, SampleMaxValue: 3);

        var result = clipping.Apply(x0);

        // Then the first is clamped to s = 3 (the quantile, capped) and divided by it; the second is left alone (s = 1)
        AssertClose((x0[0].clamp(-3, 3) / 3).unsqueeze(0), result[0].unsqueeze(0), 1e-6);
        AssertClose(x0[1], result[1], 0);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= tolerance, $"max |difference| {diff} > {tolerance}");
    }
}
