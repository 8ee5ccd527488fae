using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli;

/// <summary>Options of the commands that run a trained model's reverse process (<c>sample</c>, <c>edit</c>).</summary>
public class DenoiseSettings : CommonSettings
{
    [CommandOption("--model <FOLDER>")]
    [Description("A training run, a diffusers pipeline folder, or a UNet2DModel folder.")]
    public string? Model { get; init; }

    [CommandOption("--ema")]
    [Description("Use the EMA weights (unet_ema/; with --prompt also text_encoder_ema/, as a text-to-image training run keeps them).")]
    public bool Ema { get; init; }

    [CommandOption("--sampler <NAME>")]
    [SamplerListDescription("{0}; default: the folder's own scheduler.")]
    public string? Sampler { get; init; }

    [CommandOption("--steps <N>")]
    [Description("Sampler steps (edit: of the full schedule; the edit runs floor(N x strength) of them).")]
    [DefaultValue(50)]
    public int Steps { get; init; } = 50;

    [CommandOption("--eta <ETA>")]
    [Description("DDIM noise scale (0 = deterministic).")]
    [DefaultValue(0.0)]
    public double Eta { get; init; }

    [CommandOption("--karras")]
    [SamplerListDescription("Karras et al. 2022 noise levels ({0}).", SamplerList.KarrasSigmas)]
    public bool Karras { get; init; }

    [CommandOption("--spacing <NAME>")]
    [Description("Inference timestep spacing: leading, trailing or linspace; default: the folder's own.")]
    public string? Spacing { get; init; }

    /// <summary>The parsed <see cref="Spacing"/>, or null.</summary>
    public Schedules.TimestepSpacing? TimestepSpacing =>
        Spacing is null ? null : Schedules.TimestepSpacings.Parse(Spacing, "--spacing");

    [CommandOption("--seed <S>")]
    [DefaultValue(0L)]
    public long Seed { get; init; }

    [CommandOption("--guidance <W>")]
    [Description("Classifier-free guidance scale (1 = none); needs --class.")]
    [DefaultValue(1.0)]
    public double Guidance { get; init; } = 1.0;

    public override ValidationResult Validate()
    {
        if (base.Validate() is { Successful: false } bad) return bad;
        if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required: a run folder or a diffusers folder");
        if (Steps < 1) return ValidationResult.Error($"--steps must be at least 1 (got {Steps})");
        if (Eta < 0 || !double.IsFinite(Eta)) return ValidationResult.Error($"--eta must be a number >= 0 (got {Eta})");
        try
        {
            _ = TimestepSpacing;
        }
        catch (InvalidInputException e)
        {
            return ValidationResult.Error(e.Message);
        }
        return ValidationResult.Success();
    }
}
