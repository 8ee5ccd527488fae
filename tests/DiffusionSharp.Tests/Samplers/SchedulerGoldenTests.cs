using DiffusionSharp.Samplers;
using DiffusionSharp.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>DDPM and DDIM against diffusers 0.30.3: whole sampling runs and set_timesteps.</summary>
public sealed class SchedulerGoldenTests(ITestOutputHelper output)
{
    /// <summary>
    /// 100 times tighter than the README's 1e-4: the float32 arithmetic follows diffusers' operation order, and the
    /// measured error is 0 (bit-identical) on this machine; the margin allows other libtorch CPU kernels.
    /// </summary>
    private const double Tolerance = 1e-6;

    public static TheoryData<string> DdpmDdimTrajectories()
    {
        var data = new TheoryData<string>();
        foreach (var t in GoldenScheduler.Trajectories(DDPMScheduler.ClassName, DDIMScheduler.ClassName)) data.Add(t.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(DdpmDdimTrajectories))]
    public void Should_reproduce_every_recorded_step_of_the_diffusers_trajectory(string name)
    {
        // Given the recorded run: its config, x_T, the per-step noise and the toy model
        var run = GoldenScheduler.Trajectory(name);
        var shape = Golden.Longs(run.GetProperty("shape"));
        var scheduler = GoldenScheduler.Scheduler(run);
        using var xT = GoldenScheduler.Tensor(run.GetProperty("x_T"), shape);
        var noise = run.TryGetProperty("noise", out var pool)
            ? pool.EnumerateArray().Select(e => e.ValueKind == System.Text.Json.JsonValueKind.Null ? null : GoldenScheduler.Tensor(e, shape)).ToArray()
            : null;
        var recorded = run.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("index").GetInt32());

        // When the loop runs it, replaying the noise through varianceNoise
        double worstPrev = 0, worstX0 = 0;
        int checkedSteps = 0;
        using var final = new SamplingLoop(scheduler, GoldenScheduler.ToyModel).Denoise(
            xT, run.GetProperty("num_inference_steps").GetInt32(), generator: null,
            varianceNoise: noise is null ? null : i => noise[i],
            onStep: step =>
            {
                if (!recorded.TryGetValue(step.Index, out var expected)) return;
                Assert.Equal(expected.GetProperty("timestep").GetDouble(), step.Timestep);
                worstPrev = Math.Max(worstPrev, GoldenScheduler.RelativeError(step.Sample, Golden.Floats(expected.GetProperty("prev_sample"))));
                worstX0 = Math.Max(worstX0, GoldenScheduler.RelativeError(step.PredOriginalSample!, Golden.Floats(expected.GetProperty("pred_original_sample"))));
                checkedSteps++;
            });

        // Then every recorded step and the final sample agree within 1e-6 of max(1, max|ref|)
        double finalError = GoldenScheduler.RelativeError(final, Golden.Floats(run.GetProperty("final_sample")));
        output.WriteLine($"{name}: {checkedSteps} steps, worst prev_sample {Golden.Show(worstPrev)}, worst pred_original_sample {Golden.Show(worstX0)}, final {Golden.Show(finalError)}");
        Assert.Equal(recorded.Count, checkedSteps);
        Assert.Equal(Golden.Longs(run.GetProperty("timesteps")).Select(t => (double)t), scheduler.Timesteps);
        Assert.True(worstPrev <= Tolerance, $"prev_sample error {worstPrev}");
        Assert.True(worstX0 <= Tolerance, $"pred_original_sample error {worstX0}");
        Assert.True(finalError <= Tolerance, $"final_sample error {finalError}");
        foreach (var n in noise ?? []) n?.Dispose();
    }

    public static TheoryData<int> DdpmDdimTimestepEntries()
    {
        var data = new TheoryData<int>();
        var entries = Golden.Load("timesteps.json").GetProperty("entries").EnumerateArray().ToArray();
        for (int i = 0; i < entries.Length; i++)
        {
            if (entries[i].GetProperty("scheduler").GetString() is DDPMScheduler.ClassName or DDIMScheduler.ClassName) data.Add(i);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(DdpmDdimTimestepEntries))]
    public void Should_choose_exactly_the_diffusers_timesteps(int index)
    {
        var entry = Golden.Load("timesteps.json").GetProperty("entries")[index];
        var scheduler = GoldenScheduler.Scheduler(entry);

        scheduler.SetTimesteps(entry.GetProperty("num_inference_steps").GetInt32());

        Assert.Equal(Golden.Longs(entry.GetProperty("timesteps")).Select(t => (double)t), scheduler.Timesteps);
    }
}
