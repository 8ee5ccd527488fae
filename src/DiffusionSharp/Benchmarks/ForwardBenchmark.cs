using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Benchmarks;

/// <summary>Latency of one forward pass of a network (any <see cref="IDenoiser"/>) under inference mode (eval, no autograd), timed in windows after a warm-up.</summary>
public static class ForwardBenchmark
{
    /// <summary>What to run.</summary>
    /// <param name="Name">The model's name for the report.</param>
    /// <param name="Model">The network (switched to eval mode).</param>
    /// <param name="Batch">Images per forward pass.</param>
    public sealed record Options(string Name, IDenoiser Model, int Batch = 1) : IBenchmarkOptions
    {
        /// <summary>Checks the values; an error names the property.</summary>
        public void Validate()
        {
            if (Batch < 1) throw InvalidInputException.For<Options>(nameof(Batch), $" must be at least 1 (got {Batch})");
        }
    }

    /// <summary>The measurement; the unit of <see cref="Timing"/> is one forward pass.</summary>
    /// <param name="Model">The model's name.</param>
    /// <param name="Parameters">Parameters.</param>
    /// <param name="Batch">Images per pass.</param>
    /// <param name="GFlopsPerImage">Forward GFLOPs per image.</param>
    /// <param name="Timing">The windows.</param>
    /// <param name="Ceiling">The GFLOP/s the efficiency is relative to.</param>
    /// <param name="Memory">Peak RSS and the start and end of the timed windows.</param>
    /// <param name="Machine">Where it ran.</param>
    public sealed record Result(string Model, long Parameters, int Batch, double GFlopsPerImage, WindowTiming Timing, PerformanceCeiling Ceiling,
        MemoryUse Memory, MachineInfo Machine)
    {
        /// <summary>Median milliseconds per forward pass.</summary>
        public double MsPerForward => Timing.MedianSecondsPerUnit * 1e3;

        /// <summary>Images per second at the median.</summary>
        public double ImagesPerSecond => Batch / Timing.MedianSecondsPerUnit;

        /// <summary>Achieved GFLOP/s.</summary>
        public double AchievedGFlopsPerSecond => GFlopsPerImage * ImagesPerSecond;

        /// <summary>Achieved / ceiling.</summary>
        public double Efficiency => Ceiling.EfficiencyOf(AchievedGFlopsPerSecond);
    }

    /// <summary>Measures the forward pass on seeded random input at timestep 500 (the cost does not depend on either).</summary>
    public static Result Run(Options options, WindowPlan plan, PerformanceCeiling ceiling, CancellationToken cancellationToken = default)
    {
        BenchmarkSetup.Check(options, plan, ceiling);
        var model = options.Model;
        var config = model.Config;
        var (shape, stats) = BenchmarkSetup.ForInference(model, "ForwardBenchmark.Options.Model");
        using var inference = torch.inference_mode();
        using var generator = new Generator(0);
        using var drawn = torch.randn([options.Batch, .. shape.Select(d => (long)d)], generator: generator);
        using var sample = drawn.to(model.Device);
        using var timestep = torch.full([options.Batch], 500, dtype: ScalarType.Int64, device: model.Device);
        using var condition = NullCondition(config, options.Batch, model.Device);
        void Unit()
        {
            using var scope = torch.NewDisposeScope();
            model.Forward(sample, timestep, condition);
        }
        WindowTimer.Warmup(Unit, plan, cancellationToken);
        var start = MemoryUse.Snapshot();
        var rss = new List<long?>();
        var timing = WindowTimer.Measure(Unit, plan, () => rss.Add(ProcessMemory.CurrentRssBytes()), cancellationToken);
        var memory = MemoryUse.Since(start, rss);
        return new Result(options.Name, stats.ParameterCount, options.Batch, stats.GFlopsPerSample, timing, ceiling, memory, MachineInfo.Current());
    }

    /// <summary>The condition a benchmark runs with: a class-conditional network's null class, otherwise none (the cost is the same).</summary>
    internal static Condition NullCondition(IDenoiserConfig config, long batch, Device device) => config.Conditioning == ConditionKind.ClassLabel
        ? new ClassLabelCondition(torch.full([batch], (long)config.NumClasses, dtype: ScalarType.Int64, device: device), config.NumClasses)
        : Condition.None(batch);
}
