using System.Text.Json.Nodes;
using DiffusionSharp.Noising;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Noising;

public sealed class ForwardProcessTests(ITestOutputHelper output)
{
    public static TheoryData<string> DdpmEntries()
    {
        var data = new TheoryData<string>();
        foreach (var e in Golden.Load("add_noise.json").GetProperty("ddpm").EnumerateArray()) data.Add(e.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(DdpmEntries))]
    public void Should_match_diffusers_add_noise_and_get_velocity(string name)
    {
        // Given diffusers' x0, noise, timesteps and schedule
        var file = Golden.Load("add_noise.json");
        var entry = file.GetProperty("ddpm").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var config = new SchedulerConfigReader(JsonNode.Parse(entry.GetProperty("config").GetRawText())!.AsObject()).NoiseSchedule();
        using var forward = new ForwardProcess(NoiseSchedule.Create(config));
        using var x0 = FromGolden(file.GetProperty("x0"));
        using var noise = FromGolden(file.GetProperty("noise"));
        using var timesteps = tensor(Golden.Longs(entry.GetProperty("timesteps")));

        // When we noise and compute the velocity
        using var noisy = forward.AddNoise(x0, noise, timesteps);
        using var velocity = forward.GetVelocity(x0, noise, timesteps);

        // Then both agree within 1e-6·max(1, |ref|) per element (measured: bit-identical)
        double addNoiseError = RelativeError(noisy, Golden.Tensor(entry.GetProperty("add_noise")).Data);
        double velocityError = RelativeError(velocity, Golden.Tensor(entry.GetProperty("get_velocity")).Data);
        output.WriteLine($"{name}: add_noise {Golden.Show(addNoiseError)}, get_velocity {Golden.Show(velocityError)}");
        Assert.True(addNoiseError <= 1e-6, $"add_noise error {addNoiseError}");
        Assert.True(velocityError <= 1e-6, $"get_velocity error {velocityError}");
    }

    [Fact]
    public void Should_invert_add_noise_with_the_predict_methods()
    {
        using var forward = new ForwardProcess(NoiseSchedule.Create(new NoiseScheduleConfig()));
        using var g = new Generator(3);
        var x0 = rand([4, 1, 4, 4], generator: g) * 2 - 1;
        var eps = randn([4, 1, 4, 4], generator: g);
        var t = tensor(new long[] { 0, 10, 500, 990 });

        var xt = forward.AddNoise(x0, eps, t);
        var v = forward.GetVelocity(x0, eps, t);

        AssertClose(x0, forward.PredictStartFromNoise(xt, t, eps), 1e-3);
        AssertClose(eps, forward.PredictNoiseFromStart(xt, t, x0), 1e-3);
        AssertClose(x0, forward.PredictStartFromV(xt, t, v), 1e-5);
        AssertClose(eps, forward.PredictNoiseFromV(xt, t, v), 1e-5);
    }

    [Theory]
    [InlineData(PredictionType.Epsilon)]
    [InlineData(PredictionType.Sample)]
    [InlineData(PredictionType.VPrediction)]
    public void Should_return_the_training_target_of_each_prediction_type(PredictionType type)
    {
        using var forward = new ForwardProcess(NoiseSchedule.Create(new NoiseScheduleConfig()));
        var x0 = full([2, 1, 2, 2], 0.5f);
        var eps = full([2, 1, 2, 2], -1f);
        var t = tensor(new long[] { 100, 900 });

        var target = forward.TrainingTarget(type, x0, eps, t);

        var expected = type switch
        {
            PredictionType.Epsilon => eps,
            PredictionType.Sample => x0,
            _ => forward.GetVelocity(x0, eps, t),
        };
        AssertClose(expected, target, 0);
    }

    [Fact]
    public void Should_agree_with_the_schedule_on_snr_and_posterior()
    {
        var schedule = NoiseSchedule.Create(new NoiseScheduleConfig());
        using var forward = new ForwardProcess(schedule);
        var ts = new long[] { 0, 1, 250, 999 };

        var snr = forward.Snr(tensor(ts)).data<float>().ToArray();
        var (variance, logVariance) = forward.PosteriorVariance(tensor(ts));

        for (int i = 0; i < ts.Length; i++) Assert.Equal(schedule.Snr((int)ts[i]), snr[i], schedule.Snr((int)ts[i]) * 1e-5);
        Assert.Equal(0.0, forward.PosteriorVariance(0));
        Assert.Equal(Math.Log(forward.PosteriorVariance(1)), forward.PosteriorLogVarianceClipped(0), 12);
        Assert.Equal(forward.PosteriorLogVarianceClipped(0), logVariance.data<float>()[0], 1e-5);
        // beta~_t lies between the posterior's bounds 0 and beta_t (Ho et al. 2020, section 3.2)
        for (int t = 1; t < 1000; t++) Assert.InRange(forward.PosteriorVariance(t), 0, schedule.Beta(t));
        Assert.Equal(forward.PosteriorVariance(250), variance.data<float>()[2], 1e-9);
        var (cX0, cXt) = forward.PosteriorMeanCoefficients(0);
        Assert.Equal(1.0, cX0, 9);
        Assert.Equal(0.0, cXt, 12);
    }

    [Fact]
    public void Should_give_the_ddpm_step_mean_as_the_posterior_mean_when_stepping_one_timestep()
    {
        // Given DDPM over all T timesteps (so t' = t - 1), no clipping, and zero step noise
        var schedule = NoiseSchedule.Create(new NoiseScheduleConfig());
        using var forward = new ForwardProcess(schedule);
        var ddpm = new DDPMScheduler(schedule, new DDPMSchedulerOptions { Clipping = SampleClipping.None });
        ddpm.SetTimesteps(1000);
        using var g = new Generator(5);
        var xt = randn([1, 1, 4, 4], generator: g);
        var modelOutput = randn([1, 1, 4, 4], generator: g);
        // (not near t = 0, where diffusers' float32 1 - alpha_bar_t keeps only a few digits)
        foreach (int t in new[] { 100, 400, 999 })
        {
            // When DDPM steps
            var step = ddpm.Step(modelOutput, t, xt, varianceNoise: zeros([1, 1, 4, 4]));

            // Then the result is the posterior mean of its own predicted x_0
            AssertClose(forward.PosteriorMean(step.PredOriginalSample!, xt, tensor(new long[] { t })), step.PrevSample, 1e-5);
        }
    }

    [Fact]
    public void Should_reject_timesteps_that_do_not_match_the_batch()
    {
        using var forward = new ForwardProcess(NoiseSchedule.Create(new NoiseScheduleConfig()));
        var x0 = zeros([2, 1, 2, 2]);
        Assert.Throws<ArgumentException>(() => forward.AddNoise(x0, x0, tensor(new long[] { 1, 2, 3 })));
        Assert.Throws<ArgumentException>(() => forward.AddNoise(x0, x0, tensor(new float[] { 1, 2 })));
    }

    private static Tensor FromGolden(System.Text.Json.JsonElement obj)
    {
        var (data, shape) = Golden.Tensor(obj);
        return tensor(data, shape);
    }

    private static double RelativeError(Tensor actual, float[] expected)
    {
        var a = actual.data<float>().ToArray();
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs((double)a[i] - expected[i]) / Math.Max(1, Math.Abs(expected[i])));
        return worst;
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= tolerance, $"max |difference| {diff} > {tolerance}");
    }
}
