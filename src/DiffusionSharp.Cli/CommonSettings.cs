using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli;

/// <summary>Options every command takes.</summary>
public class CommonSettings : CommandSettings
{
    [CommandOption("--verbose")]
    [Description("Show stack traces for errors.")]
    public bool Verbose { get; init; }

    [CommandOption("--threads <N>")]
    [Description("Threads for libtorch (default: the machine's logical processors).")]
    public int? Threads { get; init; }

    public override ValidationResult Validate() =>
        Threads is < 1 ? ValidationResult.Error($"--threads must be at least 1 (got {Threads})") : ValidationResult.Success();
}
