using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>diffusers' scheduler_config.json: reading, writing, switching samplers, and errors that name the key.</summary>
public sealed class SchedulerConfigTests
{
    public static TheoryData<string> DdpmDdimTrajectories() => SchedulerGoldenTests.DdpmDdimTrajectories();

    [Theory]
    [MemberData(nameof(DdpmDdimTrajectories))]
    public void Should_write_back_the_config_diffusers_wrote(string name)
    {
        // Given a scheduler built from diffusers' own config
        var run = GoldenScheduler.Trajectory(name);
        var expected = GoldenScheduler.Config(run);

        // When we write its config
        var written = GoldenScheduler.Scheduler(run).ToConfigJson();

        // Then it has exactly diffusers' keys (plus _diffusers_version) and values
        Assert.Equal(SchedulerConfigWriter.DiffusersVersion, written["_diffusers_version"]!.GetValue<string>());
        written.Remove("_diffusers_version");
        Assert.Equal(expected.Select(p => p.Key).Order(), written.Select(p => p.Key).Order());
        foreach (var (key, value) in expected) AssertSameValue(key, value, written[key]);
    }

    [Theory]
    [MemberData(nameof(DdpmDdimTrajectories))]
    public void Should_round_trip_through_config_text(string name)
    {
        // Given a scheduler and the text of its config
        var original = GoldenScheduler.Scheduler(GoldenScheduler.Trajectory(name));
        string text = SchedulerFactory.ToConfigText(original);

        // When it is read back
        var copy = SchedulerFactory.FromConfigJson(text);
        if (copy is DDIMScheduler ddim && original is DDIMScheduler first) copy = ddim.WithEta(first.Eta);

        // Then it is the same sampler: same type, timesteps and step outputs
        Assert.Equal(original.GetType(), copy.GetType());
        original.SetTimesteps(10);
        copy.SetTimesteps(10);
        Assert.Equal(original.Timesteps, copy.Timesteps);
        using var g = new Generator(21);
        var sample = randn([2, 1, 4, 4], generator: g);
        var noise = randn([2, 1, 4, 4], generator: g);
        var modelOutput = GoldenScheduler.ToyModel(sample, original.Timesteps[0]);
        var a = original.Step(modelOutput, original.Timesteps[0], sample, noise);
        var b = copy.Step(modelOutput, copy.Timesteps[0], sample, noise);
        Assert.Equal(a.PrevSample.data<float>().ToArray(), b.PrevSample.data<float>().ToArray());
        Assert.Equal(text, SchedulerFactory.ToConfigText(copy));
    }

    [Fact]
    public void Should_build_ddim_from_a_ddpm_training_config_keeping_the_schedule()
    {
        // Given the config of a v-prediction DDPM training run on a scaled-linear schedule
        var ddpm = new DDPMScheduler(
            new NoiseScheduleConfig(BetaStart: 0.00085, BetaEnd: 0.012, Schedule: BetaSchedule.ScaledLinear),
            new DDPMSchedulerOptions { PredictionType = PredictionType.VPrediction, VarianceType = DDPMVarianceType.FixedLarge });
        string json = SchedulerFactory.ToConfigText(ddpm);

        // When we ask for DDIM, by config text and by scheduler
        var fromText = SchedulerFactory.FromConfigJson(json, "ddim");
        var fromScheduler = SchedulerFactory.WithSampler(ddpm, "ddim");

        // Then both are DDIM over the same schedule and prediction type (variance_type, a DDPM key, is ignored)
        foreach (var ddim in new[] { fromText, fromScheduler })
        {
            Assert.IsType<DDIMScheduler>(ddim);
            Assert.Equal(PredictionType.VPrediction, ddim.PredictionType);
            Assert.Equal(ddpm.Schedule!.AlphasCumprod.ToArray(), ddim.Schedule!.AlphasCumprod.ToArray());
            Assert.Equal(ddpm.Schedule.Config.Schedule, ddim.Schedule.Config.Schedule);
        }
    }

    [Fact]
    public void Should_override_karras_sigmas_and_spacing_keeping_every_other_option()
    {
        // Given a v-prediction DPM-Solver++ 2M on a scaled-linear schedule, linspace spacing, no Karras sigmas
        var plain = SamplerCatalog.Create("dpmpp-2m", new SamplerBasis(
            new NoiseScheduleConfig(BetaStart: 0.00085, BetaEnd: 0.012, Schedule: BetaSchedule.ScaledLinear)) { PredictionType = PredictionType.VPrediction });

        // When Karras sigmas and trailing spacing are switched on
        var changed = (DPMSolverMultistepScheduler)plain.With(new SamplerOverrides { KarrasSigmas = true, TimestepSpacing = TimestepSpacing.Trailing });

        // Then only those two keys differ, and the noise levels follow Karras et al.'s rho = 7 spacing
        Assert.True(changed.Options.UseKarrasSigmas);
        Assert.Equal(TimestepSpacing.Trailing, changed.Options.TimestepSpacing);
        Assert.Equal(PredictionType.VPrediction, changed.PredictionType);
        Assert.Equal(plain.Schedule!.AlphasCumprod.ToArray(), changed.Schedule!.AlphasCumprod.ToArray());
        var before = plain.ToConfigJson();
        var after = changed.ToConfigJson();
        var differing = before.Select(kv => kv.Key).Where(k => before[k]?.ToJsonString() != after[k]?.ToJsonString()).ToArray();
        Assert.Equal(["timestep_spacing", "use_karras_sigmas"], differing.Order());
        changed.SetTimesteps(10);
        var s = changed.Sigmas;
        double rho = 7, first = Math.Pow(s[0], 1 / rho), last = Math.Pow(s[9], 1 / rho);
        for (int i = 0; i < 10; i++)
            Assert.Equal(Math.Pow(first + i / 9.0 * (last - first), rho), s[i], s[i] * 1e-4);
    }

    [Fact]
    public void Should_refuse_karras_sigmas_for_a_sampler_without_them_naming_those_that_have()
    {
        var ddim = SchedulerFactory.Create("ddim", new NoiseScheduleConfig());
        var e = Assert.Throws<InvalidInputException>(() => ddim.With(new SamplerOverrides { KarrasSigmas = true }));
        Assert.StartsWith("KarrasSigmas:", e.Message);
        Assert.Equal("SamplerOverrides.KarrasSigmas", e.Property);
        Assert.Contains("dpmpp-2m", e.Message);
        Assert.DoesNotContain("pndm", e.Message);
        Assert.Same(ddim, SchedulerFactory.WithSampler(ddim, null));
    }

    [Fact]
    public void Should_read_defaults_and_ignore_private_keys()
    {
        var scheduler = SchedulerFactory.FromConfigJson("""{"_class_name": "DDPMScheduler", "_name_or_path": "google/ddpm-cifar10-32", "_diffusers_version": "0.1.1"}""");

        var ddpm = Assert.IsType<DDPMScheduler>(scheduler);
        Assert.Equal(new DDPMSchedulerOptions(), ddpm.Options);
        Assert.Equal(new NoiseScheduleConfig(), ddpm.Schedule.Config);
    }

    [Theory]
    [InlineData("DDPMScheduler")]
    [InlineData("DDIMScheduler")]
    [InlineData("HeunDiscreteScheduler")]
    [InlineData("EulerDiscreteScheduler")]
    [InlineData("DPMSolverMultistepScheduler")]
    public void Should_accept_the_legacy_keys_of_early_diffusers_configs(string className)
    {
        // Given a config as diffusers 0.1-0.x wrote them: tensor_format, timestep_values, predict_epsilon = false
        string json = $$"""{"_class_name": "{{className}}", "tensor_format": "pt", "timestep_values": null, "predict_epsilon": false}""";

        // When it is read
        var scheduler = SchedulerFactory.FromConfigJson(json);

        // Then the first two are ignored and predict_epsilon = false means a model that predicts x_0, as in diffusers
        Assert.Equal(PredictionType.Sample, scheduler.PredictionType);
        Assert.Equal(PredictionType.Epsilon, SchedulerFactory.FromConfigJson($$"""{"_class_name": "{{className}}", "predict_epsilon": true}""").PredictionType);
        var e = Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigJson(
            $$"""{"_class_name": "{{className}}", "predict_epsilon": true, "prediction_type": "v_prediction"}"""));
        Assert.Contains("contradicts the legacy predict_epsilon", e.Message);
    }

    [Fact]
    public void Should_ignore_keys_of_other_diffusers_schedulers_but_not_typos()
    {
        // solver_order belongs to DPM-Solver and UniPC; diffusers' from_config ignores it for Euler, and so do we
        var euler = SchedulerFactory.FromConfigJson("""{"_class_name": "EulerDiscreteScheduler", "solver_order": 3, "set_alpha_to_one": false}""");
        Assert.IsType<EulerDiscreteScheduler>(euler);

        var e = Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigJson("""{"_class_name": "EulerDiscreteScheduler", "use_karas_sigmas": true}"""));
        Assert.Equal("use_karas_sigmas: unknown scheduler config key", e.Message);
    }

    [Fact]
    public void Should_refuse_a_repeated_key_with_a_one_line_error_naming_the_file()
    {
        var e = Assert.Throws<InvalidInputException>(() => SchedulerConfigReader.Parse("""{"_class_name": "DDIMScheduler", "eta": 0, "eta": 1}""", "s.json"));
        Assert.StartsWith("s.json: scheduler config repeats a key", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_read_trained_betas()
    {
        var betas = Enumerable.Range(1, 10).Select(i => i / 100.0).ToArray();
        var scheduler = SchedulerFactory.FromConfigJson(
            $$"""{"_class_name": "DDIMScheduler", "num_train_timesteps": 10, "trained_betas": [{{string.Join(", ", betas)}}]}""");

        Assert.Equal(betas.Select(b => (float)b), scheduler.Schedule!.Betas.ToArray());
        Assert.Equal(SchedulerFactory.ToConfigText(scheduler), SchedulerFactory.ToConfigText(SchedulerFactory.FromConfigJson(SchedulerFactory.ToConfigText(scheduler))));
    }

    [Theory]
    [InlineData("DDPMScheduler", "\"variance_type\": \"learned\"", "variance_type")]
    [InlineData("DDPMScheduler", "\"variance_type\": \"learned_range\"", "variance_type")]
    [InlineData("DDPMScheduler", "\"variance_type\": \"fixed_large_log\"", "variance_type")]
    [InlineData("DDPMScheduler", "\"trained_betas\": [0.1, 0.2]", "trained_betas")]
    [InlineData("DDPMScheduler", "\"prediction_type\": \"x0\"", "prediction_type")]
    [InlineData("DDPMScheduler", "\"num_train_timesteps\": \"many\"", "num_train_timesteps")]
    [InlineData("DDPMScheduler", "\"num_train_timesteps\": 10.5", "num_train_timesteps")]
    [InlineData("DDPMScheduler", "\"clip_sample\": 1", "clip_sample")]
    [InlineData("DDPMScheduler", "\"clip_sample_range\": 0", "clip_sample_range")]
    [InlineData("DDPMScheduler", "\"dynamic_thresholding_ratio\": 1.5", "dynamic_thresholding_ratio")]
    [InlineData("DDPMScheduler", "\"beta_schedule\": \"quadratic\"", "beta_schedule")]
    [InlineData("DDPMScheduler", "\"beta_end\": 0.00001", "beta_end")]
    [InlineData("DDPMScheduler", "\"timestep_spacing\": \"even\"", "timestep_spacing")]
    [InlineData("DDPMScheduler", "\"steps_offset\": -1", "steps_offset")]
    [InlineData("DDPMScheduler", "\"steps_offset\": null", "steps_offset")]
    [InlineData("DDPMScheduler", "\"beta_shedule\": \"linear\"", "beta_shedule")]
    [InlineData("DDIMScheduler", "\"set_alpha_to_one\": \"yes\"", "set_alpha_to_one")]
    [InlineData("EulerScheduler", "\"prediction_type\": \"epsilon\"", "_class_name")]
    public void Should_reject_a_bad_value_naming_the_key(string className, string entry, string key)
    {
        string json = $$"""{"_class_name": "{{className}}", {{entry}}}""";

        var e = Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigJson(json));

        Assert.StartsWith(key, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_name_the_file_when_a_config_file_is_bad_or_missing()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "scheduler_config.json");
            Assert.StartsWith(path, Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path)).Message);
            File.WriteAllText(path, """{"_class_name": "DDPMScheduler", "variance_type": "learned"}""");
            var e = Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path));
            Assert.StartsWith($"{path}: variance_type", e.Message);
            File.WriteAllText(path, """{"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": "yes"}""");
            Assert.Equal($"{path}: use_karras_sigmas: expected true or false, found \"yes\"",
                Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path)).Message);
            File.WriteAllText(path, "{not json");
            Assert.StartsWith(path, Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_name_the_file_for_its_content_but_not_for_the_callers_choice()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            // Given a valid DDPM config file
            string path = Path.Combine(dir, "scheduler_config.json");
            File.WriteAllText(path, SchedulerFactory.ToConfigText(SchedulerFactory.Create("ddpm", new NoiseScheduleConfig())));

            // When the caller asks for what the file cannot be blamed for, Then the error names the caller's property only
            var karras = Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path, "ddim", new SamplerOverrides { KarrasSigmas = true }));
            Assert.StartsWith("KarrasSigmas: the ddim sampler", karras.Message);
            var eta = Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path, overrides: new SamplerOverrides { Eta = 0.5 }));
            Assert.StartsWith("Eta: only the ddim sampler takes eta (got samplerName ddpm)", eta.Message);
            Assert.Equal(["SamplerOverrides.Eta", "SamplerCatalog.samplerName"], eta.Properties);
            Assert.StartsWith("samplerName: unknown sampler 'kdpm2'", Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path, "kdpm2")).Message);

            // And a bad key in the file, read for another sampler, names the file
            File.WriteAllText(path, """{"_class_name": "DDPMScheduler", "clip_sample": 1}""");
            Assert.StartsWith($"{path}: clip_sample", Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path, "euler")).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_require_a_class_name_unless_a_sampler_is_named()
    {
        Assert.StartsWith("_class_name", Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigJson("{}")).Message);
        Assert.IsType<DDIMScheduler>(SchedulerFactory.FromConfigJson("{}", "ddim"));
    }

    [Fact]
    public void Should_create_samplers_by_command_line_name()
    {
        var ddim = SchedulerFactory.Create("ddim", new NoiseScheduleConfig(), PredictionType.VPrediction, TimestepSpacing.Trailing, eta: 0.5);

        var typed = Assert.IsType<DDIMScheduler>(ddim);
        Assert.Equal(0.5, typed.Eta);
        Assert.Equal(TimestepSpacing.Trailing, typed.Options.TimestepSpacing);
        Assert.Equal(PredictionType.VPrediction, typed.PredictionType);
        Assert.IsType<DDPMScheduler>(SchedulerFactory.Create("ddpm", new NoiseScheduleConfig()));
        Assert.StartsWith("samplerName", Assert.Throws<InvalidInputException>(() => SchedulerFactory.Create("euler-x", new NoiseScheduleConfig())).Message);
        Assert.StartsWith("Eta", Assert.Throws<InvalidInputException>(() => SchedulerFactory.Create("ddpm", new NoiseScheduleConfig(), eta: 1)).Message);
        Assert.StartsWith("Eta", Assert.Throws<InvalidInputException>(() => SchedulerFactory.Create("ddim", new NoiseScheduleConfig(), eta: 2)).Message);
    }

    private static double Number(JsonNode node) => double.Parse(node.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

    private static void AssertSameValue(string key, JsonNode? expected, JsonNode? actual)
    {
        if (expected?.GetValueKind() == JsonValueKind.Number)
            Assert.True(actual?.GetValueKind() == JsonValueKind.Number && Number(actual) == Number(expected), $"{key}: {expected} vs {actual}");
        else
            Assert.True(JsonNode.DeepEquals(expected, actual), $"{key}: {expected?.ToJsonString() ?? "null"} vs {actual?.ToJsonString() ?? "null"}");
    }
}
