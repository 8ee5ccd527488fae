using DiffusionSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Benchmarks;

/// <summary>Latency of one forward pass of a U-Net under inference mode (eval, no autograd), timed in windows after a warm-up.</summary>
public static class ForwardBenchmark
{
    /// <summary>What to run.</summary>
    /// <param name="Name">The model's name for the report.</param>
    /// <param name="Model">The network (switched to eval mode).</param>
    /// <param name="Batch">Images per forward pass.</param>
    public sealed record Options(string Name, UNet2DModel Model, int Batch = 1)
    {
        /// <summary>Checks the values, naming the command-line options.</summary>
        public void Validate()
        {
            if (Batch < 1) throw new InvalidInputException($"--batch must be at least 1 (got {Batch})");
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
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(ceiling);
        options.Validate();
        plan.Validate();
        var model = options.Model;
        var config = model.Config;
        int size = config.SampleSize ?? throw new InvalidInputException("--model: the config has no sample_size, so the image size is unknown");
        model.eval();
        var stats = ModelStats.Of(model);
        using var inference = torch.inference_mode();
        using var generator = new Generator(0);
        using var sample = torch.randn([options.Batch, config.InChannels, size, size], generator: generator);
        using var timestep = torch.full([options.Batch], 500, dtype: ScalarType.Int64);
        using var labels = config.NumClassEmbeds is { } n ? torch.full([options.Batch], n - 1, dtype: ScalarType.Int64) : null;
        void Unit()
        {
            using var scope = torch.NewDisposeScope();
            model.forward(sample, timestep, labels);
        }
        WindowTimer.Warmup(Unit, plan, cancellationToken);
        var start = MemoryUse.Snapshot();
        var rss = new List<long?>();
        var timing = WindowTimer.Measure(Unit, plan, () => rss.Add(ProcessMemory.CurrentRssBytes()), cancellationToken);
        var memory = MemoryUse.Since(start, rss);
        return new Result(options.Name, stats.ParameterCount, options.Batch, stats.GFlopsPerImage, timing, ceiling, memory, MachineInfo.Current());
    }
}
