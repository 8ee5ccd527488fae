using System.Text.Json.Nodes;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>Config round trips, registry, validation errors, Heun's doubled timesteps, Karras sigmas, state reset and leaks.</summary>
public sealed class SamplerContractTests
{
    public static TheoryData<string> AllNames() => new(SamplerRegistry.Known);

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Should_round_trip_its_config_json(string name)
    {
        // Given a sampler with non-default options
        var scheduler = SamplerRegistry.Create(name, new NoiseScheduleConfig(BetaStart: 0.00085, BetaEnd: 0.012, Schedule: BetaSchedule.ScaledLinear),
            PredictionType.VPrediction, timestepSpacing: TimestepSpacing.Trailing);

        // When its config is written and read back
        var json = scheduler.ToConfigJson();
        var again = FromConfig(json);

        // Then the same config comes out
        Assert.Equal(json.ToJsonString(), again.ToConfigJson().ToJsonString());
        Assert.Equal(scheduler.Name, again.Name);
    }

    [Fact]
    public void Should_write_the_same_keys_as_diffusers()
    {
        foreach (var trajectory in Golden.Load("trajectories.json").GetProperty("trajectories").EnumerateArray())
        {
            var config = GoldenTrajectory.Config(trajectory);
            if (config["_class_name"]!.GetValue<string>() is "DDPMScheduler" or "DDIMScheduler") continue;
            var written = FromConfig(config).ToConfigJson();
            // diffusers adds _diffusers_version when it saves a config file; the golden files hold the in-memory config.
            Assert.Equal(SchedulerConfigWriter.DiffusersVersion, written["_diffusers_version"]?.GetValue<string>());
            Assert.Equal(config.Select(p => p.Key).Order(), written.Select(p => p.Key).Where(k => k != "_diffusers_version").Order());
            foreach (var (key, value) in config)
                Assert.True(JsonNode.DeepEquals(value, written[key]) || value?.GetValueKind() == System.Text.Json.JsonValueKind.Number
                    && Math.Abs(value.GetValue<double>() - written[key]!.GetValue<double>()) < 1e-12,
                    $"{trajectory.GetProperty("name").GetString()}: {key} is {written[key]?.ToJsonString()}, diffusers wrote {value?.ToJsonString()}");
        }
    }

    [Fact]
    public void Should_reject_an_unknown_config_key_naming_it()
    {
        var json = new DPMSolverMultistepScheduler(new DPMSolverMultistepOptions()).ToConfigJson();
        json["use_magic"] = true;
        var e = Assert.Throws<InvalidInputException>(() => DPMSolverMultistepScheduler.FromConfigJson(json, "model/scheduler_config.json"));
        Assert.Contains("model/scheduler_config.json", e.Message);
        Assert.Contains("use_magic", e.Message);
    }

    [Theory]
    [InlineData("thresholding", "true")]
    [InlineData("algorithm_type", "\"dpmsolver\"")]
    [InlineData("solver_order", "4")]
    [InlineData("use_lu_lambdas", "true")]
    [InlineData("final_sigmas_type", "\"denoise_to_zero\"")]
    [InlineData("prediction_type", "\"noise\"")]
    public void Should_reject_unsupported_dpm_options_naming_the_key(string key, string value)
    {
        var json = new DPMSolverMultistepScheduler(new DPMSolverMultistepOptions()).ToConfigJson();
        json[key] = JsonNode.Parse(value);
        var e = Assert.Throws<InvalidInputException>(() => DPMSolverMultistepScheduler.FromConfigJson(json));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Should_reject_a_config_of_another_class()
    {
        var json = new EulerDiscreteScheduler(new EulerDiscreteOptions()).ToConfigJson();
        var e = Assert.Throws<InvalidInputException>(() => DPMSolverMultistepScheduler.FromConfigJson(json));
        Assert.Contains("_class_name", e.Message);
    }

    [Fact]
    public void Should_list_the_known_samplers_for_an_unknown_name()
    {
        var e = Assert.Throws<InvalidInputException>(() => SamplerRegistry.Create("dpm-fast", new NoiseScheduleConfig(), source: "--sampler"));
        Assert.Contains("--sampler", e.Message);
        Assert.Contains("dpmpp-2m", e.Message);
        Assert.Contains("euler-ancestral", e.Message);
    }

    [Fact]
    public void Should_visit_every_heun_timestep_after_the_first_twice()
    {
        // Given Heun with 5 steps
        var heun = new HeunDiscreteScheduler(new HeunDiscreteOptions());
        heun.SetTimesteps(5);

        // Then the loop visits 2N - 1 timesteps, t0 then pairs, with the sigmas doubled the same way and ending at 0
        Assert.Equal(9, heun.Timesteps.Count);
        Assert.Equal(10, heun.Sigmas.Count);
        for (int k = 1; k < 9; k += 2) Assert.Equal(heun.Timesteps[k], heun.Timesteps[k + 1]);
        Assert.Equal(0f, heun.Sigmas[^1]);
        Assert.Equal(999.0, heun.Timesteps[0]);
    }

    [Fact]
    public void Should_space_karras_sigmas_between_the_table_ends()
    {
        // Given DPM-Solver++ and Euler with Karras sigmas
        var dpm = new DPMSolverMultistepScheduler(new DPMSolverMultistepOptions() with { UseKarrasSigmas = true });
        var euler = new EulerDiscreteScheduler(new EulerDiscreteOptions() with { UseKarrasSigmas = true });
        dpm.SetTimesteps(10);
        euler.SetTimesteps(10);
        var table = SigmaSchedules.SigmaTable(dpm.Schedule.AlphasCumprod);

        // Then sigmas run from sigma_max to sigma_min with rho = 7 spacing, then 0, and timesteps follow them
        foreach (var sigmas in new[] { dpm.Sigmas, euler.Sigmas })
        {
            Assert.Equal(table[^1], sigmas[0], 3);
            Assert.Equal(table[0], sigmas[^2], 5);
            Assert.Equal(0f, sigmas[^1]);
            var roots = sigmas.Take(10).Select(s => Math.Pow(s, 1 / 7.0)).ToArray();
            for (int k = 2; k < 10; k++) Assert.Equal(roots[1] - roots[0], roots[k] - roots[k - 1], 4);
        }
        Assert.Equal(999.0, dpm.Timesteps[0]);
        Assert.Equal(0.0, dpm.Timesteps[^1]);
        Assert.All(dpm.Timesteps, t => Assert.Equal(Math.Round(t), t));
        Assert.Equal(999.0, euler.Timesteps[0], 3);
        Assert.True(euler.Timesteps.Zip(euler.Timesteps.Skip(1)).All(p => p.First > p.Second));
    }

    [Fact]
    public void Should_overwrite_the_last_alpha_bar_with_2_pow_minus_24_for_zero_snr()
    {
        // Given a zero-terminal-SNR schedule (alpha_bar_T = 0 exactly)
        var schedule = new NoiseScheduleConfig(RescaleBetasZeroSnr: true);
        var dpm = new DPMSolverMultistepScheduler(new DPMSolverMultistepOptions(schedule, TimestepSpacing: TimestepSpacing.Trailing));
        dpm.SetTimesteps(10);

        // Then the first sigma is finite: sqrt((1 - 2^-24)/2^-24) ≈ 4096
        Assert.Equal(4096.0, dpm.Sigmas[0], 0);
        var expected = Golden.Load("schedules.json").GetProperty("schedules").EnumerateArray()
            .First(s => s.GetProperty("name").GetString() == "linear_zero_snr" && s.GetProperty("num_train_timesteps").GetInt32() == 1000);
        Assert.Equal(Golden.Floats(expected.GetProperty("alphas_cumprod_dpmsolver_euler"))[^1], SigmaSchedules.SamplerAlphasCumprod(dpm.Schedule)[^1]);
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Should_give_the_same_result_after_set_timesteps_resets_its_state(string name)
    {
        // Given a sampler run once
        var scheduler = SamplerRegistry.Create(name, new NoiseScheduleConfig());
        var first = Run(scheduler, 8);

        // When we run again after SetTimesteps, Then multistep state from the first run has no effect
        var second = Run(scheduler, 8);
        Assert.Equal(first.data<float>().ToArray(), second.data<float>().ToArray());
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Should_not_leak_tensors_across_steps(string name)
    {
        // Given a sampler and a loop with one dispose scope per step
        var scheduler = SamplerRegistry.Create(name, new NoiseScheduleConfig());
        Run(scheduler, 8).Dispose();
        scheduler.SetTimesteps(8);
        long before = LiveTensors();

        // When we run a full loop
        Run(scheduler, 8).Dispose();

        // Then only the multistep history stays alive (at most PNDM's four noise predictions and a sample), and SetTimesteps frees it
        Assert.InRange(LiveTensors() - before, 0, 5);
        scheduler.SetTimesteps(8);
        Assert.Equal(before, LiveTensors());
    }

    private static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return DisposeScopeManager.Statistics.ThreadTotalLiveCount;
    }

    private static Tensor Run(IScheduler scheduler, int steps)
    {
        scheduler.SetTimesteps(steps);
        var generator = new torch.Generator(3);
        Tensor sample;
        using (var noise = randn([2, 1, 4, 4], generator: generator)) sample = noise * (float)scheduler.InitNoiseSigma;
        foreach (var t in scheduler.Timesteps)
        {
            using var scope = NewDisposeScope();
            var input = scheduler.ScaleModelInput(sample, t);
            var output = GoldenTrajectory.ToyModel(input, t);
            var next = scheduler.Step(output, t, sample, generator: generator).PrevSample.MoveToOuterDisposeScope();
            sample.Dispose();
            sample = next;
        }
        return sample;
    }

    private static IScheduler FromConfig(JsonObject json) => json["_class_name"]!.GetValue<string>() switch
    {
        "DPMSolverMultistepScheduler" => DPMSolverMultistepScheduler.FromConfigJson(json),
        "EulerDiscreteScheduler" => EulerDiscreteScheduler.FromConfigJson(json),
        "EulerAncestralDiscreteScheduler" => EulerAncestralDiscreteScheduler.FromConfigJson(json),
        "HeunDiscreteScheduler" => HeunDiscreteScheduler.FromConfigJson(json),
        "PNDMScheduler" => PNDMScheduler.FromConfigJson(json),
        "UniPCMultistepScheduler" => UniPCMultistepScheduler.FromConfigJson(json),
        var other => throw new ArgumentException(other),
    };
}
