using System.Globalization;
using DiffusionSharp.Pipelines;
using Spectre.Console;
using TorchSharp;

namespace DiffusionSharp.Cli.Commands;

/// <summary>
/// <c>diffuse model check</c> on a Stable Diffusion pipeline folder: re-runs a recorded diffusers run (<c>chain.safetensors</c>
/// + <c>chain.json</c>) and compares every step's latents and the image. <c>--tolerance</c> is the relative tolerance of the
/// latents (· max(1, max |reference|)); the image may differ by ten times it (the golden README's 1e-4 and 1e-3).
/// </summary>
internal static class PipelineChainCheck
{
    public static int Run(ModelCheckCommand.Settings s, torch.Device device)
    {
        using var pipeline = StableDiffusionPipeline.Load(s.Model!, device: device);
        var r = StableDiffusionChainCheck.Run(pipeline, s.Reference!, s.Tolerance, 10 * s.Tolerance);
        string Fmt(double v) => v.ToString("0.###e+0", CultureInfo.InvariantCulture);
        var table = new Table().AddColumns("quantity", "value", "allowed");
        table.AddRow("prompt tokens", r.TokensMatch ? "same ids" : "[red]different ids[/]", "same ids");
        table.AddRow("max |initial latents - reference|", Fmt(r.InitialLatentsMaxAbsError), "-");
        for (int i = 0; i < r.Steps; i++)
            table.AddRow($"step {i}: max |latents - reference|", Fmt(r.StepMaxAbsErrors[i]), Fmt(r.StepTolerances[i]));
        table.AddRow("max |image - reference|", Fmt(r.ImageMaxAbsError), Fmt(r.ImageTolerance));
        table.AddRow("max |PNG byte - reference|", r.PixelMaxDiff.ToString(CultureInfo.InvariantCulture), "1");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(r.Passed
            ? $"[green]PASS[/]: the pipeline reproduces all {r.Steps} steps and the image of the reference"
            : "[red]FAIL[/]: the run differs from the reference by more than the tolerance");
        return r.Passed ? DiffuseApp.Ok : ModelCheckCommand.Mismatch;
    }
}
