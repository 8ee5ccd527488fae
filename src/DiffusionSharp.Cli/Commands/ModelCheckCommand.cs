using System.ComponentModel;
using System.Globalization;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli.Commands;

/// <summary>
/// <c>diffuse model check</c>: runs a checkpoint on the <c>sample</c>, <c>timestep</c> (and <c>class_labels</c>) tensors of a
/// reference safetensors file and compares with its <c>output</c>: the way to verify that a diffusers checkpoint behaves in
/// .NET as it did in Python.
/// </summary>
public sealed class ModelCheckCommand : Command<ModelCheckCommand.Settings>
{
    /// <summary>Exit code when the model runs but its output differs from the reference by more than the tolerance.</summary>
    public const int Mismatch = DiffuseApp.CheckFailed;

    public sealed class Settings : CommonSettings
    {
        [CommandOption("--model <FOLDER>")]
        [Description("A network folder, chosen by its config: UNet2DModel, UNet2DConditionModel, UNet1DModel, AutoencoderKL / AutoencoderTiny (_class_name), a CLIP text encoder (model_type) or a CLIP tokenizer folder (vocab.json); or a pipeline folder with unet/.")]
        public string? Model { get; init; }

        [CommandOption("--reference <SAFETENSORS>")]
        [Description("The reference in the golden io format: a U-Net's sample, timestep, optional class_labels, encoder_hidden_states (+ optional encoder_attention_mask) for a UNet2DConditionModel, and the expected output; an autoencoder's sample and output = forward(sample); a text encoder's input_ids and outputs; a tokenizer's tokens.json.")]
        public string? Reference { get; init; }

        [CommandOption("--tolerance <ATOL>")]
        [Description("Largest allowed absolute difference.")]
        [DefaultValue(1e-4)]
        public double Tolerance { get; init; } = 1e-4;

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } bad) return bad;
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required");
            if (string.IsNullOrWhiteSpace(Reference)) return ValidationResult.Error("--reference is required");
            if (!(Tolerance > 0)) return ValidationResult.Error($"--tolerance must be positive (got {Tolerance})");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        CliFiles.CheckExists(s.Reference!, "--reference");
        if (TextModelCheck.TryRun(s) is int textCode) return textCode;
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        if (StableDiffusionPipeline.IsTextToImageFolder(s.Model!)) return PipelineChainCheck.Run(s, device);
        ModelCheckResult result;
        if (AutoencoderLoader.IsAutoencoderFolder(s.Model!))
        {
            using var autoencoder = AutoencoderLoader.FromPretrained(s.Model!, device);
            result = AutoencoderCheck.Run(autoencoder, s.Reference!);
        }
        else
        {
            using var model = Denoisers.FromPretrained(s.Model!, device);
            result = ModelCheck.Run(model, s.Reference!);
        }
        bool ok = result.MaxAbsError <= s.Tolerance;
        string Fmt(double v) => v.ToString("0.###e+0", CultureInfo.InvariantCulture);
        var table = new Table().AddColumns("quantity", "value");
        table.AddRow("max |output - reference|", Fmt(result.MaxAbsError));
        table.AddRow("max relative error (to max |reference|)", Fmt(result.MaxRelError));
        table.AddRow("max |reference|", Fmt(result.MaxAbsReference));
        table.AddRow("tolerance", Fmt(s.Tolerance));
        foreach (var (name, err) in result.IntermediateMaxAbsErrors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            table.AddRow($"  intermediate {name}", Fmt(err));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(ok ? "[green]PASS[/]: the model reproduces the reference output" : "[red]FAIL[/]: the output differs from the reference by more than the tolerance");
        return ok ? DiffuseApp.Ok : Mismatch;
    }
}
