using System.Globalization;
using DiffusionSharp.Models;
using DiffusionSharp.Runtime;
using DiffusionSharp.Text;
using Spectre.Console;

namespace DiffusionSharp.Cli.Commands;

/// <summary>
/// The CLIP half of <c>diffuse model check</c>: a <c>text_encoder/</c> folder (config.json with model_type clip_text_model)
/// against an io.safetensors reference, or a <c>tokenizer/</c> folder (vocab.json) against a tokens.json reference.
/// </summary>
internal static class TextModelCheck
{
    /// <summary>The exit code when <paramref name="s"/>.Model is a CLIP folder; null for any other folder.</summary>
    public static int? TryRun(ModelCheckCommand.Settings s)
    {
        var folder = s.Model!;
        if (File.Exists(Path.Combine(folder, ClipTokenizer.VocabFileName))) return CheckTokenizer(folder, s.Reference!);
        var config = Path.Combine(folder, ClipTextModel.ConfigFileName);
        if (File.Exists(config) && ClipTextConfig.IsClipTextConfig(config)) return CheckTextEncoder(s);
        return null;
    }

    private static int CheckTextEncoder(ModelCheckCommand.Settings s)
    {
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        using var model = ClipTextModel.FromPretrained(s.Model!, device);
        var result = TextEncoderCheck.Run(model, s.Reference!);
        bool ok = result.MaxAbsError <= s.Tolerance;
        string Fmt(double v) => v.ToString("0.###e+0", CultureInfo.InvariantCulture);
        var table = new Table().AddColumns("quantity", "value");
        table.AddRow("max |last_hidden_state - reference|", Fmt(result.MaxAbsError));
        table.AddRow("max relative error (to max |reference|)", Fmt(result.MaxRelError));
        table.AddRow("max |reference|", Fmt(result.MaxAbsReference));
        table.AddRow("tolerance", Fmt(s.Tolerance));
        foreach (var (name, err) in result.IntermediateMaxAbsErrors)
            table.AddRow($"  {name}", Fmt(err));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(ok ? "[green]PASS[/]: the text encoder reproduces the reference output" : "[red]FAIL[/]: the output differs from the reference by more than the tolerance");
        return ok ? DiffuseApp.Ok : ModelCheckCommand.Mismatch;
    }

    private static int CheckTokenizer(string folder, string reference)
    {
        var tokenizer = ClipTokenizer.FromPretrained(folder);
        var result = ClipTokenizerCheck.Run(tokenizer, reference);
        foreach (var line in result.Mismatches.Take(20)) AnsiConsole.WriteLine(line);
        if (result.Mismatches.Count > 20) AnsiConsole.WriteLine($"... and {result.Mismatches.Count - 20} more");
        var ok = result.Mismatches.Count == 0;
        AnsiConsole.MarkupLine(ok
            ? $"[green]PASS[/]: the tokenizer reproduces the ids of all {result.Entries} strings"
            : $"[red]FAIL[/]: {result.Mismatches.Count} of {result.Entries} strings get other ids");
        return ok ? DiffuseApp.Ok : ModelCheckCommand.Mismatch;
    }
}
