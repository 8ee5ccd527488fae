using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary>Options of the benchmarks that run a U-Net: which model, the batch, the efficiency ceiling and the leak check.</summary>
public class ModelBenchSettings : BenchSettings
{
    [CommandOption("--model <PRESET|FOLDER>")]
    [Description("A preset (mnist-nano, mnist-tiny, mnist-small, emoji32-small, emoji-latent-small, cifar10-ddpm; random weights), a config.json, a UNet2DModel folder or a pipeline/run folder.")]
    [DefaultValue("mnist-small")]
    public string Model { get; init; } = "mnist-small";

    [CommandOption("--batch <B>")]
    [Description("Images per step or forward pass (default: 128 for train, 64 for sample, 1 for forward).")]
    public int? Batch { get; init; }

    [CommandOption("--ceiling <GFLOPS>")]
    [Description("GFLOP/s to compute the efficiency against; default: measure 'bench conv' for 3 s first, at the same thread count.")]
    public double? Ceiling { get; init; }

    [CommandOption("--max-rss-growth <MIB>")]
    [Description("Leak check: exit 3 if any tensor is left alive or the RSS grows by more than this from the end of the first timed window to the end of the last.")]
    public double? MaxRssGrowth { get; init; }

    [CommandOption("--channels-last")]
    [Description("Run the U-Net with channels-last (NHWC) convolution weights and activations, oneDNN's own layout on the CPU.")]
    public bool ChannelsLast { get; init; }

    [CommandOption("--attention <auto|sdpa>")]
    [Description("Attention kernel: auto (DiffusionSharp's own for 8-channel heads on the CPU, libtorch's scaled_dot_product_attention otherwise) or sdpa (libtorch's everywhere, to compare).")]
    [DefaultValue("auto")]
    public string Attention { get; init; } = "auto";

    /// <summary>Applies <c>--attention</c> to the rest of the command (see <see cref="DiffusionSharp.Models.Blocks.SmallHeadAttention.Enabled"/>).</summary>
    public void ApplyAttention() => DiffusionSharp.Models.Blocks.SmallHeadAttention.Enabled = Attention == "auto";

    /// <summary>Switches a loaded network to channels-last when <c>--channels-last</c> is given (UNet2DModel only).</summary>
    public void ApplyLayout(DiffusionSharp.Models.IDenoiser model)
    {
        if (!ChannelsLast) return;
        if (model is not DiffusionSharp.Models.UNet2DModel unet)
            throw new DiffusionSharp.InvalidInputException($"--channels-last: only a UNet2DModel can run channels-last (this model is a {model.Config.ClassName})");
        unet.UseChannelsLast();
    }

    /// <summary>The <c>--ceiling</c> given, or one measured now (announced unless <c>--json</c>).</summary>
    public DiffusionSharp.Benchmarks.PerformanceCeiling MeasureCeiling(CancellationToken cancellationToken)
    {
        if (!Json && Ceiling is null)
            AnsiConsole.MarkupLine(Markup.Escape($"measuring the conv ceiling for {DiffusionSharp.Benchmarks.PerformanceCeiling.MeasureSeconds:G} s ..."));
        return DiffusionSharp.Benchmarks.PerformanceCeiling.GivenOrMeasured(Ceiling, cancellationToken);
    }

    public override ValidationResult Validate()
    {
        if (base.Validate() is { Successful: false } bad) return bad;
        if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model must name a preset or a folder");
        if (Attention is not ("auto" or "sdpa")) return ValidationResult.Error($"--attention must be auto or sdpa (got '{Attention}')");
        if (Batch is < 1) return ValidationResult.Error($"--batch must be at least 1 (got {Batch})");
        if (Ceiling is { } c && (!(c > 0) || !double.IsFinite(c))) return ValidationResult.Error($"--ceiling must be a positive GFLOP/s figure (got {c})");
        if (MaxRssGrowth is { } m && (!(m >= 0) || !double.IsFinite(m))) return ValidationResult.Error($"--max-rss-growth must be 0 or more MiB (got {m})");
        return ValidationResult.Success();
    }
}
