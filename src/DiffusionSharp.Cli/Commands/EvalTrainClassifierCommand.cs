using System.ComponentModel;
using System.Globalization;
using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli.Commands;

/// <summary>
/// <c>diffuse eval-classifier train</c>: trains the MNIST classifier behind <c>diffuse eval</c> on the first 8,000 bundled
/// digits, reports its accuracy on the last 2,000, and saves it (config.json + model.safetensors).
/// </summary>
public sealed class EvalTrainClassifierCommand : Command<EvalTrainClassifierCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("--out <DIR>")]
        [Description("Folder to write config.json and model.safetensors into.")]
        [DefaultValue("models/mnist-classifier")]
        public string Out { get; init; } = "models/mnist-classifier";

        [CommandOption("--epochs <N>")]
        [Description("Passes over the 8,000 training digits.")]
        [DefaultValue(16)]
        public int Epochs { get; init; } = 16;

        [CommandOption("--batch-size <N>")]
        [Description("Digits per optimizer step.")]
        [DefaultValue(64)]
        public int BatchSize { get; init; } = 64;

        [CommandOption("--lr <LR>")]
        [Description("Peak AdamW learning rate (cosine decay to 0).")]
        [DefaultValue(2e-3)]
        public double LearningRate { get; init; } = 2e-3;

        [CommandOption("--max-shift <PX>")]
        [Description("Augmentation: random shifts of up to this many pixels in x and y (0 = off).")]
        [DefaultValue(2)]
        public int MaxShift { get; init; } = 2;

        [CommandOption("--seed <N>")]
        [Description("Seed of the initial weights, the order and the shifts.")]
        [DefaultValue(0L)]
        public long Seed { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } failed) return failed;
            if (string.IsNullOrWhiteSpace(Out)) return ValidationResult.Error("--out: empty path");
            if (Epochs < 1) return ValidationResult.Error($"--epochs must be at least 1 (got {Epochs})");
            if (BatchSize is < 1 or > MnistSplit.TrainCount) return ValidationResult.Error($"--batch-size must be 1 to {MnistSplit.TrainCount} (got {BatchSize})");
            if (!(LearningRate > 0)) return ValidationResult.Error($"--lr must be greater than 0 (got {LearningRate})");
            if (MaxShift is < 0 or > 8) return ValidationResult.Error($"--max-shift must be 0 to 8 (got {MaxShift})");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        if (File.Exists(settings.Out)) throw new InvalidInputException($"--out: {settings.Out} is a file; give a folder");
        TorchRuntime.Initialize(settings.Threads, settings.Device);
        var mnist = IdxDataset.Mnist();
        Console.Out.WriteLine(
            $"training on MNIST digits 0-{MnistSplit.TrainCount - 1}, holding out {MnistSplit.TrainCount}-{MnistSplit.TrainCount + MnistSplit.HeldOutCount - 1} " +
            $"({settings.Epochs} epochs, batch {settings.BatchSize}, lr {settings.LearningRate.ToString(CultureInfo.InvariantCulture)}, shift ±{settings.MaxShift}, seed {settings.Seed})");
        var result = DigitClassifierTrainer.Train(mnist, MnistSplit.TrainIndices(), settings.Epochs, settings.BatchSize, settings.Seed,
            heldOutIndices: MnistSplit.HeldOutIndices(), learningRate: settings.LearningRate, maxShift: settings.MaxShift,
            progress: (epoch, loss) => Console.Out.WriteLine(
                string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{settings.Epochs}: mean loss {loss:0.0000}")),
            cancellationToken: cancellationToken);
        using var model = result.Model;
        var accuracy = result.HeldOutAccuracy!.Value;
        model.Save(settings.Out, new Dictionary<string, string>
        {
            ["held_out_accuracy"] = accuracy.ToString("0.0000", CultureInfo.InvariantCulture),
            ["train_indices"] = $"0-{MnistSplit.TrainCount - 1}",
            ["epochs"] = settings.Epochs.ToString(CultureInfo.InvariantCulture),
            ["seed"] = settings.Seed.ToString(CultureInfo.InvariantCulture),
        });
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"held-out accuracy {accuracy:P2} ({MnistSplit.HeldOutCount} digits), {result.Steps} steps in {result.Elapsed.TotalSeconds:0.0} s, {model.ParameterCount} parameters"));
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{settings.Out}[/]");
        return 0;
    }
}
