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
    [Description("Threads for libtorch (default: 1, measured fastest on a shared machine; give the cores on a machine of your own; under mpiexec, each rank takes an equal share of its host's: cores / ranks on the host).")]
    public int? Threads { get; init; }

    [CommandOption("--device <cpu|cuda>")]
    [Description("Where the networks run: cpu, or cuda when TorchSharp's CUDA backend is present. Random draws stay on the CPU, so a seed gives the same result.")]
    [DefaultValue("cpu")]
    public string Device { get; init; } = "cpu";

    public override ValidationResult Validate() =>
        Threads is < 1 ? ValidationResult.Error($"--threads must be at least 1 (got {Threads})")
        : !Runtime.TorchRuntime.DeviceNames.Contains(Device.ToLowerInvariant()) ? ValidationResult.Error($"--device must be cpu or cuda (got {Device})")
        : ValidationResult.Success();
}
