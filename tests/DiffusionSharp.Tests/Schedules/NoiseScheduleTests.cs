using System.Text.Json;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Schedules;

public sealed class NoiseScheduleTests
{
    public static TheoryData<int> GoldenEntries()
    {
        var data = new TheoryData<int>();
        int n = Golden.Load("schedules.json").GetProperty("schedules").GetArrayLength();
        for (int i = 0; i < n; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(GoldenEntries))]
    public void Should_match_diffusers_betas_and_alphas_cumprod(int index)
    {
        // Given a schedule entry computed by diffusers
        var entry = Golden.Load("schedules.json").GetProperty("schedules")[index];
        var config = new NoiseScheduleConfig(
            entry.GetProperty("num_train_timesteps").GetInt32(),
            entry.GetProperty("beta_start").GetDouble(),
            entry.GetProperty("beta_end").GetDouble(),
            BetaScheduleNames.Parse(entry.GetProperty("beta_schedule").GetString()!),
            entry.GetProperty("rescale_betas_zero_snr").GetBoolean());

        // When we build the same schedule
        var schedule = NoiseSchedule.Create(config);

        // Then betas and alphas_cumprod agree within 2e-5 relative, and we count how many are bit-identical
        var name = entry.GetProperty("name").GetString();
        AssertClose(Golden.Floats(entry.GetProperty("betas")), schedule.Betas, $"{name} T={config.NumTrainTimesteps} betas");
        AssertClose(Golden.Floats(entry.GetProperty("alphas_cumprod")), schedule.AlphasCumprod, $"{name} T={config.NumTrainTimesteps} alphas_cumprod");
    }

    [Fact]
    public void Should_be_bit_identical_to_diffusers_for_linear_and_scaled_linear()
    {
        foreach (var entry in Golden.Load("schedules.json").GetProperty("schedules").EnumerateArray())
        {
            var name = entry.GetProperty("name").GetString();
            if (name is not ("linear" or "scaled_linear")) continue;
            var schedule = NoiseSchedule.Create(new NoiseScheduleConfig(
                entry.GetProperty("num_train_timesteps").GetInt32(),
                entry.GetProperty("beta_start").GetDouble(),
                entry.GetProperty("beta_end").GetDouble(),
                BetaScheduleNames.Parse(name)));
            Assert.Equal(Golden.Floats(entry.GetProperty("betas")), schedule.Betas.ToArray());
            Assert.Equal(Golden.Floats(entry.GetProperty("alphas_cumprod")), schedule.AlphasCumprod.ToArray());
        }
    }

    [Fact]
    public void Should_end_at_zero_terminal_snr_when_rescaled()
    {
        var schedule = NoiseSchedule.Create(new NoiseScheduleConfig(RescaleBetasZeroSnr: true));
        Assert.Equal(0f, schedule.AlphasCumprod[^1]);
        Assert.Equal(0.0, schedule.Snr(999));
        Assert.Equal(NoiseSchedule.Create(new NoiseScheduleConfig()).AlphasCumprod[0], schedule.AlphasCumprod[0], 6);
    }

    [Fact]
    public void Should_treat_cosine_as_squaredcos_cap_v2()
    {
        Assert.Equal(BetaSchedule.SquaredCosCapV2, BetaScheduleNames.Parse("cosine"));
        var betas = NoiseSchedule.Create(new NoiseScheduleConfig(Schedule: BetaSchedule.SquaredCosCapV2)).Betas.ToArray();
        Assert.All(betas, b => Assert.InRange(b, 0f, 0.999f));
        Assert.Equal(0.999f, betas[^1]);
    }

    [Fact]
    public void Should_make_sigmoid_betas_rise_from_beta_start_to_beta_end()
    {
        var betas = NoiseSchedule.Create(new NoiseScheduleConfig(Schedule: BetaSchedule.Sigmoid)).Betas.ToArray();
        Assert.True(betas.Zip(betas.Skip(1)).All(p => p.First < p.Second), "sigmoid betas must increase");
        Assert.InRange(betas[0], 0.0001f, 0.0002f);
        Assert.InRange(betas[^1], 0.0199f, 0.02f);
    }

    [Fact]
    public void Should_decrease_snr_monotonically()
    {
        var schedule = NoiseSchedule.Create(new NoiseScheduleConfig());
        for (int t = 1; t < 1000; t++) Assert.True(schedule.Snr(t) < schedule.Snr(t - 1));
    }

    [Theory]
    [InlineData(0, 0.0001, 0.02, "num_train_timesteps")]
    [InlineData(1000, 0.02, 0.0001, "beta_end")]
    [InlineData(1000, 0.0001, 0.0001, "beta_end")]
    [InlineData(1000, -1, 0.02, "beta_start")]
    public void Should_reject_bad_configs_naming_the_key(int t, double start, double end, string key)
    {
        var e = Assert.Throws<InvalidInputException>(() => NoiseSchedule.Create(new NoiseScheduleConfig(t, start, end)));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Should_reject_an_unknown_schedule_name_listing_the_known_ones()
    {
        var e = Assert.Throws<InvalidInputException>(() => BetaScheduleNames.Parse("quadratic", "--beta-schedule"));
        Assert.Contains("--beta-schedule", e.Message);
        Assert.Contains("squaredcos_cap_v2", e.Message);
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = 2e-5 * Math.Abs(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol,
                $"{what}[{i}]: expected {Golden.Show(expected[i])}, got {Golden.Show(actual[i])}");
        }
    }
}
