using DiffusionSharp.Models;

namespace DiffusionSharp.Benchmarks;

/// <summary>What every benchmark does before it measures.</summary>
internal static class BenchmarkSetup
{
    /// <summary>Checks the arguments of a benchmark run.</summary>
    public static void Check(IBenchmarkOptions options, WindowPlan plan, PerformanceCeiling ceiling)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(ceiling);
        options.Validate();
        plan.Validate();
    }

    /// <summary>The network in eval mode, its sample shape and its stats.</summary>
    /// <param name="model">The network.</param>
    /// <param name="property">The property that named it, for the error when its config has no sample shape.</param>
    public static (IReadOnlyList<int> Shape, ModelStats Stats) ForInference(IDenoiser model, string property)
    {
        var shape = model.Config.SampleShape
            ?? throw new InvalidInputException($"{property[(property.LastIndexOf('.') + 1)..]}: the config has no sample_size, so the image size is unknown", property);
        model.Module.eval();
        return (shape, ModelStats.Of(model));
    }
}
