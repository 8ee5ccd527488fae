using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// A plain dense 3x3 convolution (stride 1, padding 1) forward through libtorch, under inference mode: the practical
/// GFLOP/s ceiling of this machine for the U-Net's dominant operation. Efficiency figures divide by it.
/// </summary>
public static class ConvBenchmark
{
    /// <summary>The convolution: input [Batch, Channels, Size, Size], Filters 3x3 kernels; defaults are the shape.</summary>
    public sealed record Options(int Batch = 64, int Channels = 128, int Filters = 128, int Size = 28)
    {
        /// <summary>FLOPs of one call: 2 x multiply-adds, as <see cref="Models.ModelStats"/> counts them.</summary>
        public long FlopsPerCall => 2L * Batch * Channels * Filters * 9 * Size * Size;

        /// <summary>Checks the values, naming the command-line options.</summary>
        public void Validate()
        {
            if (Batch < 1) throw InvalidInputException.For<Options>(nameof(Batch), $" must be at least 1 (got {Batch})");
            if (Channels < 1) throw InvalidInputException.For<Options>(nameof(Channels), $" must be at least 1 (got {Channels})");
            if (Filters < 1) throw InvalidInputException.For<Options>(nameof(Filters), $" must be at least 1 (got {Filters})");
            if (Size < 1) throw InvalidInputException.For<Options>(nameof(Size), $" must be at least 1 (got {Size})");
        }
    }

    /// <summary>The measurement.</summary>
    /// <param name="Shape">The convolution measured.</param>
    /// <param name="Timing">Windows; the unit is one convolution call.</param>
    public sealed record Result(Options Shape, WindowTiming Timing)
    {
        /// <summary>Median milliseconds per call.</summary>
        public double MsPerCall => Timing.MedianSecondsPerUnit * 1e3;

        /// <summary>Median GFLOP/s: the ceiling.</summary>
        public double GFlopsPerSecond => Shape.FlopsPerCall / Timing.MedianSecondsPerUnit / 1e9;
    }

    /// <summary>Measures the convolution with libtorch's current thread count.</summary>
    public static Result Run(Options shape, WindowPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(plan);
        shape.Validate();
        plan.Validate();
        using var inference = torch.inference_mode();
        using var generator = new Generator(0);
        using var input = torch.randn([shape.Batch, shape.Channels, shape.Size, shape.Size], generator: generator);
        using var weight = torch.randn([shape.Filters, shape.Channels, 3, 3], generator: generator) * 0.03;
        using var bias = torch.zeros(shape.Filters);
        void Unit()
        {
            using var output = F.conv2d(input, weight, bias, padding: [1, 1]);
        }
        WindowTimer.Warmup(Unit, plan, cancellationToken);
        return new Result(shape, WindowTimer.Measure(Unit, plan, cancellationToken: cancellationToken));
    }
}
