using System.Text.Json;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>
/// The flow-matching, EDM and LMS samplers against diffusers 0.30.3, driven by the entries of ../shared/golden/visible:
/// timesteps_v2.json, trajectories_v2.json, scale_noise.json and edm_precondition.json (every entry of a class this library
/// ports; a class it does not port must be listed in <see cref="GoldenTrajectory.Unsupported"/>).
/// </summary>
public sealed class SamplerGoldenV2Tests(ITestOutputHelper output)
{
    public static TheoryData<int> TimestepEntries() => Indices(Golden.Load("timesteps_v2.json").GetProperty("entries"));

    public static TheoryData<string> Trajectories() => new(GoldenTrajectory.NamesIn("trajectories_v2.json"));

    public static TheoryData<int> FlowEulerScaleNoiseEntries() => Indices(Golden.Load("scale_noise.json").GetProperty("flow_match_euler"));

    public static TheoryData<int> FlowHeunScaleNoiseEntries() => Indices(Golden.Load("scale_noise.json").GetProperty("flow_match_heun"));

    public static TheoryData<int> EdmPreconditionEntries() => Indices(Golden.Load("edm_precondition.json").GetProperty("entries"));

    [Fact]
    public void Should_port_every_scheduler_class_of_the_v2_files_or_list_it_as_unsupported()
    {
        var classes = Golden.Load("timesteps_v2.json").GetProperty("entries").EnumerateArray()
            .Concat(Golden.Load("trajectories_v2.json").GetProperty("trajectories").EnumerateArray())
            .Select(e => e.GetProperty("scheduler").GetString()!).Distinct();
        var ported = SamplerCatalog.Entries.Select(e => e.ClassName).ToHashSet();
        Assert.All(classes, c => Assert.True(ported.Contains(c) || GoldenTrajectory.Unsupported.Contains(c), $"{c} is neither ported nor listed as unsupported"));
    }

    [Theory]
    [MemberData(nameof(TimestepEntries))]
    public void Should_choose_the_diffusers_timesteps_and_sigmas(int index)
    {
        // Given a diffusers set_timesteps(N, **kwargs) result
        var entry = Golden.Load("timesteps_v2.json").GetProperty("entries")[index];
        var scheduler = FromEntry(entry);

        // When we choose timesteps for the same N
        scheduler.SetTimesteps(entry.GetProperty("num_inference_steps").GetInt32());

        // Then timesteps and sigmas agree within 2e-5 relative (the README's tolerance), and so do the initial noise level
        // and the flow-matching constructor's sigma range
        AssertRelative(Golden.Doubles(entry.GetProperty("timesteps")), scheduler.Timesteps, "timesteps");
        // LCM has no sigmas: its entries record timesteps only
        if (entry.TryGetProperty("sigmas", out var sigmas))
            AssertRelative(Golden.Doubles(sigmas), ((TimelineScheduler)scheduler).Sigmas.Select(v => (double)v).ToArray(), "sigmas");
        if (entry.TryGetProperty("init_noise_sigma", out var init) && init.ValueKind != JsonValueKind.Null)
            AssertRelative([init.GetDouble()], [scheduler.InitNoiseSigma], "init_noise_sigma");
        if (entry.TryGetProperty("init_sigma_min", out var min))
        {
            var training = ((FlowMatchScheduler)scheduler).FlowSchedule.TrainingSigmas();
            Assert.Equal((float)min.GetDouble(), training[^1]);
            Assert.Equal((float)entry.GetProperty("init_sigma_max").GetDouble(), training[0]);
        }
    }

    [Theory]
    [MemberData(nameof(Trajectories))]
    public void Should_reproduce_every_recorded_step_of_the_diffusers_trajectory(string name)
    {
        // Given a recorded run (config, x_T, per-step noise, the toy model)
        var trajectory = GoldenTrajectory.Find(name, "trajectories_v2.json");

        // When the same loop runs it here, Then every recorded tensor (and LMS's coefficients, Heun's state) agrees
        // within 1e-4 of max(1, max|ref|), the README's tolerance
        var errors = GoldenTrajectory.Replay(FromEntry(trajectory), trajectory);
        output.WriteLine($"{name}: {errors}");
    }

    [Theory]
    [MemberData(nameof(FlowEulerScaleNoiseEntries))]
    public void Should_noise_like_flow_match_euler_scale_noise(int index)
    {
        // Given x0, noise and a FlowMatchEuler scale_noise result: on a fresh scheduler (training sigmas), after
        // set_timesteps(10) (looked up per item), or after set_begin_index(3) (one sigma for all)
        var file = Golden.Load("scale_noise.json");
        var entry = file.GetProperty("flow_match_euler")[index];
        var scheduler = (FlowMatchEulerDiscreteScheduler)FromEntry(entry);
        string mode = entry.GetProperty("mode").GetString()!;
        if (mode == "train_schedule")
        {
            AssertRelative(Golden.Doubles(entry.GetProperty("sigmas")), scheduler.Sigmas.Select(v => (double)v).ToArray(), "training sigmas");
            var indices = Golden.Longs(entry.GetProperty("train_indices"));
            AssertRelative(Golden.Doubles(entry.GetProperty("timesteps")), indices.Select(i => scheduler.Timesteps[(int)i]).ToArray(), "training timesteps");
        }
        else
        {
            scheduler.SetTimesteps(entry.GetProperty("num_inference_steps").GetInt32());
            if (mode == "begin_index") scheduler.SetBeginIndex(entry.GetProperty("begin_index").GetInt32());
            AssertRelative(Golden.Doubles(entry.GetProperty("sigmas")), scheduler.Sigmas.Select(v => (double)v).ToArray(), "sigmas");
        }

        // When we noise x0 at the same timesteps
        using var noisy = scheduler.AddNoise(X0(file), Noise(file), Golden.Doubles(entry.GetProperty("timesteps")));

        // Then σ·noise + (1 - σ)·x0 agrees within 1e-6 of max(1, max|ref|)
        AssertTensor(entry.GetProperty("scale_noise"), noisy, 1e-6);
    }

    [Theory]
    [MemberData(nameof(FlowHeunScaleNoiseEntries))]
    public void Should_noise_like_flow_match_heun_scale_noise(int index)
    {
        // Given FlowMatchHeun after set_timesteps(10) and one timestep that appears twice in its doubled schedule
        var file = Golden.Load("scale_noise.json");
        var entry = file.GetProperty("flow_match_heun")[index];
        var scheduler = (FlowMatchHeunDiscreteScheduler)FromEntry(entry);
        scheduler.SetTimesteps(entry.GetProperty("num_inference_steps").GetInt32());
        AssertRelative(Golden.Doubles(entry.GetProperty("timesteps")), scheduler.Timesteps, "timesteps");
        double t = entry.GetProperty("timestep").GetDouble();

        // When the batch is noised at it
        using var noisy = scheduler.AddNoise(X0(file), Noise(file), [t, t, t, t]);

        // Then the sigma of its second occurrence noised every item, as diffusers does
        int used = entry.GetProperty("step_index_used").GetInt32();
        Assert.Equal((float)entry.GetProperty("sigma_used").GetDouble(), scheduler.Sigmas[used]);
        AssertTensor(entry.GetProperty("scale_noise"), noisy, 1e-6);
    }

    [Theory]
    [MemberData(nameof(EdmPreconditionEntries))]
    public void Should_precondition_like_the_diffusers_edm_schedulers(int index)
    {
        // Given an EDM scheduler after set_timesteps(10), a sample and a model output
        var file = Golden.Load("edm_precondition.json");
        var entry = file.GetProperty("entries")[index];
        var scheduler = (EdmScheduler)FromEntry(entry);
        scheduler.SetTimesteps(entry.GetProperty("num_inference_steps").GetInt32());
        AssertRelative(Golden.Doubles(entry.GetProperty("sigmas")), scheduler.Sigmas.Select(v => (double)v).ToArray(), "sigmas");
        AssertRelative(Golden.Doubles(entry.GetProperty("timesteps")), scheduler.Timesteps, "timesteps");
        AssertRelative([entry.GetProperty("init_noise_sigma").GetDouble()], [scheduler.InitNoiseSigma], "init_noise_sigma");
        var (sampleData, shape) = Golden.Tensor(file.GetProperty("sample"));
        using var sample = tensor(sampleData, shape);
        using var modelOutput = tensor(Golden.Tensor(file.GetProperty("model_output")).Data, shape);
        double sigmaData = scheduler.EdmSchedule.SigmaData;

        // When each row's σ is preconditioned, Then c_noise, c_in·x and c_skip·x + c_out·F agree within 1e-6 of max(1, max|ref|)
        foreach (var row in entry.GetProperty("rows").EnumerateArray())
        {
            float sigma = (float)row.GetProperty("sigma").GetDouble();
            AssertRelative([row.GetProperty("precondition_noise").GetDouble()], [EdmPreconditioning.CNoise(sigma)], $"precondition_noise at {sigma}");
            using var inputs = sample * (float)EdmPreconditioning.CIn(sigma, sigmaData);
            AssertFlat(Golden.Floats(row.GetProperty("precondition_inputs")), inputs, 1e-6, $"precondition_inputs at {sigma}");
            using var outputs = EdmPreconditioning.Denoised(sample, modelOutput, sigma, sigmaData, scheduler.PredictionType);
            AssertFlat(Golden.Floats(row.GetProperty("precondition_outputs")), outputs, 1e-6, $"precondition_outputs at {sigma}");
        }
    }

    [Fact]
    public void Should_add_noise_like_the_diffusers_edm_euler_scheduler()
    {
        // Given EDMEuler after set_timesteps(10) and the timesteps of steps 0 and 5
        var file = Golden.Load("edm_precondition.json");
        var entry = file.GetProperty("add_noise");
        var scheduler = FromEntry(entry);
        scheduler.SetTimesteps(entry.GetProperty("num_inference_steps").GetInt32());
        var (sampleData, shape) = Golden.Tensor(file.GetProperty("sample"));
        using var x0 = tensor(sampleData, shape);
        using var noise = tensor(Golden.Tensor(file.GetProperty("model_output")).Data, shape);

        // When x0 is noised there, Then x0 + σ·noise agrees
        using var noisy = scheduler.AddNoise(x0, noise, Golden.Doubles(entry.GetProperty("timesteps")));
        AssertTensor(entry.GetProperty("add_noise"), noisy, 1e-6);
    }

    /// <summary>The scheduler of a golden entry's config, with its set_timesteps kwargs (mu, the single-shift sigmas) as options.</summary>
    internal static IScheduler FromEntry(JsonElement entry)
    {
        var scheduler = SchedulerFactory.FromConfig(GoldenTrajectory.Config(entry));
        if (!entry.TryGetProperty("set_timesteps_kwargs", out var kwargs) || scheduler is not FlowMatchEulerDiscreteScheduler flow) return scheduler;
        var options = flow.Options;
        if (kwargs.TryGetProperty("mu", out var mu)) options = options with { Mu = mu.GetDouble() };
        if (kwargs.TryGetProperty("single_shift_sigmas", out var single) && single.GetBoolean()) options = options with { SingleShift = true };
        return new FlowMatchEulerDiscreteScheduler(options);
    }

    private static TheoryData<int> Indices(JsonElement array)
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < array.GetArrayLength(); i++) data.Add(i);
        return data;
    }

    private static Tensor X0(JsonElement file)
    {
        var (data, shape) = Golden.Tensor(file.GetProperty("x0"));
        return tensor(data, shape);
    }

    private static Tensor Noise(JsonElement file)
    {
        var (data, shape) = Golden.Tensor(file.GetProperty("noise"));
        return tensor(data, shape);
    }

    private static void AssertTensor(JsonElement expected, Tensor actual, double tolerance)
    {
        var (data, shape) = Golden.Tensor(expected);
        Assert.Equal(shape, actual.shape);
        AssertFlat(data, actual, tolerance, "tensor");
    }

    private static void AssertFlat(float[] expected, Tensor actual, double tolerance, string what)
    {
        double scale = Math.Max(1, expected.Max(v => Math.Abs((double)v)));
        double err = Golden.MaxAbsDiff(expected, actual.contiguous().data<float>().ToArray()) / scale;
        Assert.True(err <= tolerance, $"{what}: max error {err:E3} relative to {scale:G4}");
    }

    /// <summary>|a - b| ≤ 2e-5·|a| (the README's rtol), or 1e-6 absolute near 0 (EDM's c_noise at σ near 1).</summary>
    private static void AssertRelative(IReadOnlyList<double> expected, IReadOnlyList<double> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Math.Max(2e-5 * Math.Abs(expected[i]), 1e-6),
                $"{what}[{i}]: expected {Golden.Show(expected[i])}, got {Golden.Show(actual[i])}");
    }
}
