using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.Samplers;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>Helpers for the diffusers trajectories in ../shared/golden/visible (see its README).</summary>
internal static class GoldenScheduler
{
    /// <summary>The README's toy model: fl32(fl32(x·0.3) + fl32(0.1·sin(t/100))), two separate float32 operations.</summary>
    public static Tensor ToyModel(Tensor x, double t) => x * 0.3f + (float)(0.1 * Math.Sin(t / 100.0));

    /// <summary>The trajectories of the given diffusers classes.</summary>
    public static IEnumerable<JsonElement> Trajectories(params string[] classes) =>
        Golden.Load("trajectories.json").GetProperty("trajectories").EnumerateArray()
            .Where(t => classes.Contains(t.GetProperty("scheduler").GetString()));

    /// <summary>The trajectory called <paramref name="name"/>.</summary>
    public static JsonElement Trajectory(string name) =>
        Golden.Load("trajectories.json").GetProperty("trajectories").EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);

    /// <summary>A diffusers config object as a mutable JSON object.</summary>
    public static JsonObject Config(JsonElement owner) => JsonNode.Parse(owner.GetProperty("config").GetRawText())!.AsObject();

    /// <summary>The scheduler a golden entry's config describes, with the trajectory's step eta for DDIM.</summary>
    public static IScheduler Scheduler(JsonElement owner)
    {
        var scheduler = SchedulerFactory.FromConfig(new SchedulerConfigReader(Config(owner)));
        if (scheduler is DDIMScheduler ddim && owner.TryGetProperty("step_kwargs", out var kwargs) && kwargs.TryGetProperty("eta", out var eta))
            return ddim.WithEta(eta.GetDouble());
        return scheduler;
    }

    /// <summary>A flat float32 list as a tensor of the trajectory shape.</summary>
    public static Tensor Tensor(JsonElement flat, long[] shape) => tensor(Golden.Floats(flat), shape);

    /// <summary>|a - b|max / max(1, max|b|), the README's trajectory error measure.</summary>
    public static double RelativeError(Tensor actual, float[] expected)
    {
        double scale = Math.Max(1.0, expected.Max(v => Math.Abs((double)v)));
        return Golden.MaxAbsDiff(actual.data<float>().ToArray(), expected) / scale;
    }
}
