using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.Samplers;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>timesteps.json and the sigma-based add_noise.json entries for the samplers of this folder.</summary>
public sealed class SigmaSamplerGoldenTests
{
    private static readonly string[] Classes =
        ["DPMSolverMultistepScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "PNDMScheduler"];

    public static TheoryData<int> TimestepEntries()
    {
        var data = new TheoryData<int>();
        var entries = Golden.Load("timesteps.json").GetProperty("entries");
        for (int i = 0; i < entries.GetArrayLength(); i++)
            if (Classes.Contains(entries[i].GetProperty("scheduler").GetString())) data.Add(i);
        return data;
    }

    public static TheoryData<int> AddNoiseEntries()
    {
        var data = new TheoryData<int>();
        int n = Golden.Load("add_noise.json").GetProperty("sigma_based").GetArrayLength();
        for (int i = 0; i < n; i++) data.Add(i);
        return data;
    }

    internal static IScheduler FromConfig(JsonElement config)
    {
        var json = JsonNode.Parse(config.GetRawText())!.AsObject();
        return SchedulerFactory.FromConfig(json);
    }

    [Theory]
    [MemberData(nameof(TimestepEntries))]
    public void Should_choose_the_diffusers_timesteps_and_sigmas(int index)
    {
        // Given a diffusers set_timesteps(N) result
        var entry = Golden.Load("timesteps.json").GetProperty("entries")[index];
        var scheduler = FromConfig(entry.GetProperty("config"));

        // When we choose timesteps for the same N
        scheduler.SetTimesteps(entry.GetProperty("num_inference_steps").GetInt32());

        // Then integer timesteps agree exactly, float timesteps and sigmas within 2e-5 relative
        var expected = Golden.Doubles(entry.GetProperty("timesteps"));
        if (entry.GetProperty("timesteps_dtype").GetString() == "int64")
            Assert.Equal(expected, scheduler.Timesteps);
        else
            AssertRelative(expected, scheduler.Timesteps.ToArray(), "timesteps");
        if (entry.TryGetProperty("sigmas", out var sigmas))
        {
            var actual = scheduler switch
            {
                DPMSolverMultistepScheduler d => d.Sigmas,
                EulerDiscreteScheduler e => e.Sigmas,
                EulerAncestralDiscreteScheduler a => a.Sigmas,
                _ => throw new InvalidOperationException("no sigmas"),
            };
            AssertRelative(Golden.Doubles(sigmas), actual.Select(v => (double)v).ToArray(), "sigmas");
        }
        if (entry.TryGetProperty("init_noise_sigma", out var init))
            AssertRelative([init.GetDouble()], [scheduler.InitNoiseSigma], "init_noise_sigma");
        if (scheduler is PNDMScheduler pndm)
        {
            Assert.Equal(Golden.Longs(entry.GetProperty("prk_timesteps")), pndm.PrkTimesteps);
            Assert.Equal(Golden.Longs(entry.GetProperty("plms_timesteps")), pndm.PlmsTimesteps);
        }
    }

    [Theory]
    [MemberData(nameof(AddNoiseEntries))]
    public void Should_add_noise_at_the_run_sigmas_like_diffusers(int index)
    {
        // Given x0, noise and a diffusers sigma-based add_noise result after set_timesteps(10)
        var file = Golden.Load("add_noise.json");
        var entry = file.GetProperty("sigma_based")[index];
        var (x0Data, shape) = Golden.Tensor(file.GetProperty("x0"));
        var (noiseData, _) = Golden.Tensor(file.GetProperty("noise"));
        using var x0 = tensor(x0Data, dtype: ScalarType.Float32).reshape(shape);
        using var noise = tensor(noiseData, dtype: ScalarType.Float32).reshape(shape);
        var scheduler = FromConfig(entry.GetProperty("config"));
        scheduler.SetTimesteps(entry.GetProperty("num_inference_steps").GetInt32());
        var timesteps = Golden.Doubles(entry.GetProperty("timesteps"));

        // When we add noise at the same timesteps
        using var noisy = scheduler switch
        {
            DPMSolverMultistepScheduler d => d.AddNoise(x0, noise, timesteps),
            EulerDiscreteScheduler e => e.AddNoise(x0, noise, timesteps),
            _ => throw new InvalidOperationException(),
        };

        // Then the result agrees within 1e-5 relative to max(1, max|ref|)
        var expected = Golden.Floats(entry.GetProperty("add_noise").GetProperty("data"));
        double scale = Math.Max(1, expected.Max(v => Math.Abs((double)v)));
        double err = Golden.MaxAbsDiff(expected, noisy.data<float>().ToArray()) / scale;
        Assert.True(err <= 1e-5, $"add_noise error {err:E3}");
    }

    [Fact]
    public void Should_find_a_timestep_in_float32_as_diffusers_does()
    {
        // Given Euler after set_timesteps(20): float32 linspace timesteps, the eighth 999·12/19 = 630.94739 in float32,
        // which diffusers stores, returns and prints as 630.9474 (timesteps.json has no 20-step entry, so it is computed)
        var euler = new EulerDiscreteScheduler(new EulerDiscreteOptions());
        euler.SetTimesteps(20);
        Assert.Equal((double)(float)(999.0 * 12 / 19), euler.Timesteps[7]);
        Assert.Equal("630.9474", euler.Timesteps[7].ToString("F4", System.Globalization.CultureInfo.InvariantCulture));
        Assert.NotEqual(630.9474, euler.Timesteps[7]);
        using var g = new Generator(23);
        using var x0 = randn([2, 1, 4, 4], generator: g);
        using var noise = randn([2, 1, 4, 4], generator: g);

        // When add_noise and the first step's input scaling get the value as diffusers returns it
        using var stored = euler.AddNoise(x0, noise, [euler.Timesteps[7], euler.Timesteps[7]]);
        using var printed = euler.AddNoise(x0, noise, [630.9474, 630.9474]);
        using var input = euler.ScaleModelInput(x0, 630.9474);

        // Then it is that timestep, as in diffusers, which compares in float32; a value that differs in float32 is not
        Assert.Equal(stored.data<float>().ToArray(), printed.data<float>().ToArray());
        using var expectedInput = x0 / MathF.Sqrt(euler.Sigmas[7] * euler.Sigmas[7] + 1f);
        Assert.Equal(expectedInput.data<float>().ToArray(), input.data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => euler.AddNoise(x0, noise, [630.95, 630.95]));
    }

    private static void AssertRelative(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5 * Math.Abs(expected[i]),
                $"{what}[{i}]: expected {Golden.Show(expected[i])}, got {Golden.Show(actual[i])}");
    }
}
