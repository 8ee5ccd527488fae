using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.Samplers;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>
/// Replays one trajectory of ../shared/golden/visible/trajectories.json: the loop a diffusers pipeline runs, with the
/// toy model <c>x·0.3 + 0.1·sin(t/100)</c>, the stored x_T and per-step noise, and compares every recorded tensor.
/// </summary>
public static class GoldenTrajectory
{
    /// <summary>The worst error of each compared field, relative to max(1, max|ref|) of that tensor.</summary>
    public sealed record Errors(double PrevSample, double PredOriginalSample, double ModelInput, double FinalSample)
    {
        public double Worst => new[] { PrevSample, PredOriginalSample, ModelInput, FinalSample }.Max();

        public override string ToString() =>
            $"prev_sample {PrevSample:E2}, pred_original_sample {PredOriginalSample:E2}, model_input {ModelInput:E2}, final_sample {FinalSample:E2}";
    }

    /// <summary>The diffusers classes of the golden files that this library does not port (their entries are not replayed).</summary>
    public static IReadOnlySet<string> Unsupported { get; } = new HashSet<string>();

    public static JsonElement Find(string name, string file = "trajectories.json") =>
        Golden.Load(file).GetProperty("trajectories").EnumerateArray()
            .Single(t => t.GetProperty("name").GetString() == name);

    public static IEnumerable<string> NamesFor(params string[] schedulers) => NamesIn("trajectories.json", schedulers);

    /// <summary>The names of the trajectories in <paramref name="file"/> of the given classes (every supported class when none is given).</summary>
    public static IEnumerable<string> NamesIn(string file, params string[] schedulers) =>
        Golden.Load(file).GetProperty("trajectories").EnumerateArray()
            .Where(t => schedulers.Length == 0 ? !Unsupported.Contains(t.GetProperty("scheduler").GetString()!) : schedulers.Contains(t.GetProperty("scheduler").GetString()))
            .Select(t => t.GetProperty("name").GetString()!);

    public static JsonObject Config(JsonElement trajectory) =>
        JsonNode.Parse(trajectory.GetProperty("config").GetRawText())!.AsObject();

    /// <summary>The toy model of the golden README, float32 operation by operation.</summary>
    public static Tensor ToyModel(Tensor x, double t)
    {
        var c = (float)(0.1 * Math.Sin(t / 100.0));
        using var scaled = x * 0.3f;
        return scaled + c;
    }

    public static Errors Replay(IScheduler scheduler, JsonElement trajectory)
    {
        var shape = Golden.Longs(trajectory.GetProperty("shape"));
        int n = trajectory.GetProperty("num_inference_steps").GetInt32();
        scheduler.SetTimesteps(n);

        // the README's rtol 2e-5 for float timesteps: numpy's float32 log (LMS's Karras timesteps) and torch's float32
        // linspace (EDM's exponential sigmas) differ from ours by an ulp or so; every other run agrees exactly
        var expectedTimesteps = Golden.Doubles(trajectory.GetProperty("timesteps"));
        Assert.Equal(expectedTimesteps.Length, scheduler.Timesteps.Count);
        for (int k = 0; k < expectedTimesteps.Length; k++) AssertTimestep(expectedTimesteps[k], scheduler.Timesteps[k], k);
        // null for the flow-matching schedulers, which have none: they start from x_T itself
        var initNoiseSigma = trajectory.GetProperty("init_noise_sigma");
        Assert.Equal(initNoiseSigma.ValueKind == JsonValueKind.Null ? 1f : (float)initNoiseSigma.GetDouble(), (float)scheduler.InitNoiseSigma, 5);

        var xT = tensor(Golden.Floats(trajectory.GetProperty("x_T")), dtype: ScalarType.Float32).reshape(shape);
        var sample = xT * (float)scheduler.InitNoiseSigma;
        AssertClose(Golden.Floats(trajectory.GetProperty("initial_sample")), sample, "initial_sample", 0, out _);

        bool noisy = trajectory.GetProperty("noise_mode").GetString() != "none";
        var noiseList = noisy ? trajectory.GetProperty("noise") : default;
        var recorded = trajectory.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("index").GetInt32());
        double worstPrev = 0, worstPred = 0, worstInput = 0;
        for (int i = 0; i < scheduler.Timesteps.Count; i++)
        {
            double t = scheduler.Timesteps[i];
            using var scope = NewDisposeScope();
            var modelInput = scheduler.ScaleModelInput(sample, t);
            var output = ToyModel(modelInput, t);
            Tensor? noise = null;
            if (noisy && noiseList[i].ValueKind != JsonValueKind.Null)
                noise = tensor(Golden.Floats(noiseList[i]), dtype: ScalarType.Float32).reshape(shape);
            bool? firstOrder = (scheduler as FlowMatchHeunDiscreteScheduler)?.StateInFirstOrder;
            var step = scheduler.Step(output, t, sample, noise);
            if (recorded.TryGetValue(i, out var expected))
            {
                if (expected.TryGetProperty("state_in_first_order", out var first)) Assert.Equal(first.GetBoolean(), firstOrder);
                if (expected.TryGetProperty("lms_coeffs", out var coefficients))
                    AssertCoefficients(Golden.Doubles(coefficients), ((LMSDiscreteScheduler)scheduler).LastCoefficients, i);
                // EDM DPM-Solver's data prediction (its model_outputs[-1]) is what it returns as the predicted x_0
                if (expected.TryGetProperty("x0_pred", out var x0Pred))
                    worstPred = Math.Max(worstPred, AssertClose(Golden.Floats(x0Pred), step.PredOriginalSample!, "x0_pred", i, out _));
                AssertTimestep(expected.GetProperty("timestep").GetDouble(), t, i);
                if (expected.TryGetProperty("model_input", out var mi))
                    worstInput = Math.Max(worstInput, AssertClose(Golden.Floats(mi), modelInput, "model_input", i, out _));
                worstPrev = Math.Max(worstPrev, AssertClose(Golden.Floats(expected.GetProperty("prev_sample")), step.PrevSample, "prev_sample", i, out _));
                // LCM's f(x_t, t), the boundary-conditioned estimate it returns as the predicted x_0
                if (expected.TryGetProperty("denoised", out var denoised))
                    worstPred = Math.Max(worstPred, AssertClose(Golden.Floats(denoised), step.PredOriginalSample!, "denoised", i, out _));
                if (expected.TryGetProperty("pred_original_sample", out var pred))
                {
                    Assert.NotNull(step.PredOriginalSample);
                    worstPred = Math.Max(worstPred, AssertClose(Golden.Floats(pred), step.PredOriginalSample!, "pred_original_sample", i, out _));
                }
            }
            var next = step.PrevSample.MoveToOuterDisposeScope();
            sample.Dispose();
            sample = next;
        }
        double final = AssertClose(Golden.Floats(trajectory.GetProperty("final_sample")), sample, "final_sample", -1, out _);
        return new Errors(worstPrev, worstPred, worstInput, final);
    }

    private static void AssertTimestep(double expected, double actual, int step) =>
        Assert.True(Math.Abs(expected - actual) <= 2e-5 * Math.Abs(expected) || (float)expected == (float)actual,
            $"timestep {step}: expected {Golden.Show(expected)}, got {Golden.Show(actual)}");

    /// <summary>
    /// LMS's coefficients: diffusers integrates a float32 polynomial numerically (relative tolerance 1e-4), the exact
    /// integral differs by at most 1.3e-6 relative (golden README); 1e-5 of the largest coefficient here.
    /// </summary>
    private static void AssertCoefficients(double[] expected, IReadOnlyList<double> actual, int step)
    {
        Assert.Equal(expected.Length, actual.Count);
        double scale = expected.Max(Math.Abs);
        for (int j = 0; j < expected.Length; j++)
            Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-5 * scale, $"lms_coeffs[{j}] at step {step}: expected {expected[j]}, got {actual[j]}");
    }

    /// <summary>Asserts |a - b| ≤ 1e-4·max(1, max|ref|) and returns the worst error divided by that scale.</summary>
    public static double AssertClose(float[] expected, Tensor actual, string what, int step, out double scale)
    {
        var got = actual.contiguous().data<float>().ToArray();
        scale = Math.Max(1.0, expected.Max(v => Math.Abs((double)v)));
        double err = Golden.MaxAbsDiff(expected, got) / scale;
        Assert.True(err <= 1e-4, $"{what} at step {step}: max error {err:E3} (relative to {scale:G4}) exceeds 1e-4");
        return err;
    }
}
