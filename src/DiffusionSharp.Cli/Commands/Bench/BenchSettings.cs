using System.ComponentModel;
using DiffusionSharp.Benchmarks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary>Options every <c>diffuse bench</c> command takes: output format and how long to measure.</summary>
public class BenchSettings : CommonSettings
{
    [CommandOption("--json")]
    [Description("Print one JSON object on stdout instead of the table (and nothing else).")]
    public bool Json { get; init; }

    [CommandOption("--seconds <S>")]
    [Description("Seconds to measure, split into the windows (default: 60 for train and sample, 10 for forward and conv).")]
    public double? Seconds { get; init; }

    [CommandOption("--windows <N>")]
    [Description("Timed windows; the result is the median over windows.")]
    [DefaultValue(5)]
    public int Windows { get; init; } = 5;

    [CommandOption("--warmup-steps <N>")]
    [Description("Untimed units of work first (training steps, forward passes, sampler steps, convolutions).")]
    [DefaultValue(3)]
    public int WarmupSteps { get; init; } = 3;

    /// <summary>The measuring plan with this command's default duration.</summary>
    public WindowPlan Plan(double defaultSeconds) => new(Seconds ?? defaultSeconds, Windows, WarmupSteps);

    public override ValidationResult Validate()
    {
        if (base.Validate() is { Successful: false } bad) return bad;
        if (Seconds is { } s && (!(s > 0) || !double.IsFinite(s))) return ValidationResult.Error($"--seconds must be a positive number (got {s})");
        if (Windows < 1) return ValidationResult.Error($"--windows must be at least 1 (got {Windows})");
        if (WarmupSteps < 0) return ValidationResult.Error($"--warmup-steps must be 0 or more (got {WarmupSteps})");
        return ValidationResult.Success();
    }
}
