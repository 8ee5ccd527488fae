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
/// digits, reports its accuracy on the last 2,000, and saves it (config.json + model.safetensors). With <c>--data</c>, a
/// colour-image classifier (<see cref="ImageClassifier"/>) or, for <c>spoken-digits</c> or a folder of WAVs, the
/// log-mel audio classifier (<see cref="SpokenDigitClassifier"/>), each with a seeded stratified split and a calibration table.
/// </summary>
public sealed class EvalTrainClassifierCommand : Command<EvalTrainClassifierCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("--out <DIR>")]
        [Description("Folder to write config.json and model.safetensors into (default models/mnist-classifier; models/emoji-classifier with image --data; models/spoken-digit-classifier with audio --data).")]
        public string? Out { get; init; }

        [CommandOption("--data <SOURCE>")]
        [Description("Train a colour-image classifier instead of the MNIST one: 'emoji' or an image folder with metadata.jsonl (needs --label-column); or an audio classifier: 'spoken-digits' or a folder of WAVs with metadata.jsonl (fitted to 8,192 samples at 8 kHz).")]
        public string? Data { get; init; }

        [CommandOption("--label-column <NAME>")]
        [Description("With --data: the metadata.jsonl column that gives the classes (e.g. subgroup; audio default: label).")]
        public string? LabelColumn { get; init; }

        [CommandOption("--resolution <PX>")]
        [Description("With image --data: side length images are resized and centre-cropped to (a multiple of 8; default 32).")]
        public int? Resolution { get; init; }

        [CommandOption("--held-out <FRACTION>")]
        [Description("With --data: fraction of each class held out (classes with fewer than 5 images are all trained on).")]
        [DefaultValue(0.2)]
        public double HeldOut { get; init; } = 0.2;

        [CommandOption("--epochs <N>")]
        [Description("Passes over the training set (default 16; 15 for audio).")]
        public int? Epochs { get; init; }

        [CommandOption("--batch-size <N>")]
        [Description("Digits per optimizer step.")]
        [DefaultValue(64)]
        public int BatchSize { get; init; } = 64;

        [CommandOption("--lr <LR>")]
        [Description("Peak AdamW learning rate (cosine decay to 0).")]
        [DefaultValue(2e-3)]
        public double LearningRate { get; init; } = 2e-3;

        [CommandOption("--max-shift <PX>")]
        [Description("Images only. Augmentation: random shifts of up to this many pixels in x and y (0 = off; default 2). Audio clips get the random gain, time shift and noise of SpokenDigitTrainingOptions.")]
        public int? MaxShift { get; init; }

        [CommandOption("--seed <N>")]
        [Description("Seed of the split, the initial weights, the order and the augmentation.")]
        [DefaultValue(0L)]
        public long Seed { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } failed) return failed;
            if (Out is not null && string.IsNullOrWhiteSpace(Out)) return ValidationResult.Error("--out: empty path");
            if (Data is null && LabelColumn is not null) return ValidationResult.Error("--label-column needs --data");
            var audio = Data is not null && IsAudio(Data);
            if (Data is not null && !audio && LabelColumn is null) return ValidationResult.Error($"--data {Data} needs --label-column (e.g. subgroup)");
            if (audio && (Resolution is not null || MaxShift is not null))
                return ValidationResult.Error($"--resolution and --max-shift apply to images; --data {Data} is audio");
            if (Resolution is { } r && (r < 8 || r % 8 != 0)) return ValidationResult.Error($"--resolution must be a positive multiple of 8 (got {Resolution})");
            if (!(HeldOut > 0 && HeldOut <= 0.5)) return ValidationResult.Error($"--held-out must be in (0, 0.5] (got {HeldOut})");
            if (Epochs < 1) return ValidationResult.Error($"--epochs must be at least 1 (got {Epochs})");
            if (BatchSize < 1 || (Data is null && BatchSize > MnistSplit.TrainCount)) return ValidationResult.Error($"--batch-size must be 1 to {MnistSplit.TrainCount} (got {BatchSize})");
            if (!(LearningRate > 0)) return ValidationResult.Error($"--lr must be greater than 0 (got {LearningRate})");
            if (MaxShift is < 0 or > 8) return ValidationResult.Error($"--max-shift must be 0 to 8 (got {MaxShift})");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        var audio = settings.Data is not null && IsAudio(settings.Data);
        var outDir = settings.Out ?? (settings.Data is null ? "models/mnist-classifier" : audio ? "models/spoken-digit-classifier" : "models/emoji-classifier");
        if (File.Exists(outDir)) throw new InvalidInputException($"--out: {outDir} is a file; give a folder");
        TorchRuntime.Initialize(settings.Threads, settings.Device);
        if (audio) return TrainAudioClassifier(settings, outDir, cancellationToken);
        if (settings.Data is not null) return TrainImageClassifier(settings, outDir, cancellationToken);
        var epochs = settings.Epochs ?? 16;
        var maxShift = settings.MaxShift ?? 2;
        var mnist = IdxDataset.Mnist();
        Console.Out.WriteLine(
            $"training on MNIST digits 0-{MnistSplit.TrainCount - 1}, holding out {MnistSplit.TrainCount}-{MnistSplit.TrainCount + MnistSplit.HeldOutCount - 1} " +
            $"({epochs} epochs, batch {settings.BatchSize}, lr {settings.LearningRate.ToString(CultureInfo.InvariantCulture)}, shift ±{maxShift}, seed {settings.Seed})");
        var result = DigitClassifierTrainer.Train(mnist, MnistSplit.TrainIndices(), epochs, settings.BatchSize, settings.Seed,
            heldOutIndices: MnistSplit.HeldOutIndices(), learningRate: settings.LearningRate, maxShift: maxShift,
            progress: (epoch, loss) => Console.Out.WriteLine(
                string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{epochs}: mean loss {loss:0.0000}")),
            cancellationToken: cancellationToken);
        using var model = result.Model;
        var accuracy = result.HeldOutAccuracy!.Value;
        model.Save(outDir, new Dictionary<string, string>
        {
            ["held_out_accuracy"] = accuracy.ToString("0.0000", CultureInfo.InvariantCulture),
            ["train_indices"] = $"0-{MnistSplit.TrainCount - 1}",
            ["epochs"] = epochs.ToString(CultureInfo.InvariantCulture),
            ["seed"] = settings.Seed.ToString(CultureInfo.InvariantCulture),
        });
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"held-out accuracy {accuracy:P2} ({MnistSplit.HeldOutCount} digits), {result.Steps} steps in {result.Elapsed.TotalSeconds:0.0} s, {model.ParameterCount} parameters"));
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{outDir}[/]");
        return 0;
    }

    private static int TrainImageClassifier(Settings settings, string outDir, CancellationToken cancellationToken)
    {
        var resolution = settings.Resolution ?? 32;
        var epochs = settings.Epochs ?? 16;
        var maxShift = settings.MaxShift ?? 2;
        var data = new DataSpec(settings.Data!, ImageSize: resolution, LabelColumn: settings.LabelColumn).Open(resolution);
        if (data.Height != data.Width || data.Height % 8 != 0)
            throw new InvalidInputException($"--data {settings.Data}: images are {data.Height} x {data.Width}; expected square with a side divisible by 8");
        var labels = new long[data.Count];
        var scratch = new float[(long)data.Count * data.ImageSize];
        data.FillBatch(Enumerable.Range(0, data.Count).ToArray(), scratch, labels);
        var split = StratifiedSplit.Create(labels, settings.HeldOut, settings.Seed);
        if (settings.BatchSize > split.Train.Count)
            throw new InvalidInputException($"--batch-size: {settings.BatchSize} is more than the {split.Train.Count} training images");
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"training on {split.Train.Count} of {data.Count} images ({data.NumClasses} classes of '{settings.LabelColumn}', {data.Channels} x {data.Height} x {data.Width}), " +
            $"holding out {split.HeldOut.Count} ({settings.HeldOut:P0} of each class with ≥ {StratifiedSplit.MinClassSizeForHeldOut} images; " +
            $"{split.TrainOnlyClasses.Count} smaller classes are trained on only); {epochs} epochs, batch {settings.BatchSize}, lr {settings.LearningRate}, shift ±{maxShift}, seed {settings.Seed}"));
        var result = ImageClassifierTrainer.Train(data, split, epochs, settings.BatchSize, settings.Seed,
            learningRate: settings.LearningRate, maxShift: maxShift,
            progress: (epoch, loss) => Console.Out.WriteLine(
                string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{epochs}: mean loss {loss:0.0000}")),
            cancellationToken: cancellationToken);
        using var model = result.Model;
        var trainSeconds = result.Elapsed.TotalSeconds;
        var calibration = ImageClassifierTrainer.Calibrate(model, data, split, settings.Seed);
        model.Save(outDir, new Dictionary<string, string>
        {
            ["data"] = settings.Data!,
            ["label_column"] = settings.LabelColumn!,
            ["held_out_top1"] = result.Top1.ToString("0.0000", CultureInfo.InvariantCulture),
            ["held_out_top5"] = result.Top5.ToString("0.0000", CultureInfo.InvariantCulture),
            ["held_out_fraction"] = settings.HeldOut.ToString(CultureInfo.InvariantCulture),
            ["held_out_count"] = split.HeldOut.Count.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = epochs.ToString(CultureInfo.InvariantCulture),
            ["seed"] = settings.Seed.ToString(CultureInfo.InvariantCulture),
        });
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"held-out accuracy top-1 {result.Top1:P2}, top-5 {result.Top5:P2} ({split.HeldOut.Count} images), {result.Steps} steps in {trainSeconds:0.0} s, {model.ParameterCount} parameters"));
        WriteCalibration("FID on the classifier's features against the held-out images", "FID", calibration);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{outDir}[/]");
        return 0;
    }

    /// <summary>The audio classifier: clips fitted to 8,192 samples at 8 kHz, a seeded stratified split, training, calibration.</summary>
    private static int TrainAudioClassifier(Settings settings, string outDir, CancellationToken cancellationToken)
    {
        var config = new SpokenDigitClassifierConfig();
        var labelColumn = settings.LabelColumn ?? "label";
        var data = new DataSpec(settings.Data!, LabelColumn: labelColumn).OpenAudio(config.SampleRate, 1, config.Length);
        if (data.NumClasses < 2)
            throw new InvalidInputException($"--data {settings.Data}: expected at least 2 classes in metadata.jsonl's '{labelColumn}', found {data.NumClasses}");
        config = config with { NumClasses = data.NumClasses };
        var split = StratifiedSplit.Create(SpokenDigitTrainer.Labels(data), settings.HeldOut, settings.Seed);
        if (settings.BatchSize > split.Train.Count)
            throw new InvalidInputException($"--batch-size: {settings.BatchSize} is more than the {split.Train.Count} training clips");
        var options = new SpokenDigitTrainingOptions(Epochs: settings.Epochs ?? 15, BatchSize: settings.BatchSize, LearningRate: settings.LearningRate, Seed: settings.Seed);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"training on {split.Train.Count} of {data.Count} clips ({data.NumClasses} classes of '{labelColumn}', {config.Length} samples at {config.SampleRate} Hz), " +
            $"holding out {split.HeldOut.Count} ({settings.HeldOut:P0} of each class); {options.Epochs} epochs, batch {options.BatchSize}, lr {options.LearningRate}, " +
            $"gain {options.MinGain}-1, shift ±{options.MaxShift} samples, noise σ ≤ {options.MaxNoise}, seed {options.Seed}"));
        var result = SpokenDigitTrainer.Train(data, split, options, config,
            progress: (epoch, loss) => Console.Out.WriteLine(
                string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{options.Epochs}: mean loss {loss:0.0000}")),
            cancellationToken: cancellationToken);
        using var model = result.Model;
        var calibration = SpokenDigitTrainer.Calibrate(model, data, split, settings.Seed);
        var inv = CultureInfo.InvariantCulture;
        model.Save(outDir, new Dictionary<string, string>
        {
            ["data"] = settings.Data!,
            ["label_column"] = labelColumn,
            ["held_out_accuracy"] = result.HeldOutAccuracy.ToString("0.0000", inv),
            ["held_out_fraction"] = settings.HeldOut.ToString(inv),
            ["held_out_count"] = split.HeldOut.Count.ToString(inv),
            ["epochs"] = options.Epochs.ToString(inv),
            ["batch_size"] = options.BatchSize.ToString(inv),
            ["learning_rate"] = options.LearningRate.ToString(inv),
            ["max_shift"] = options.MaxShift.ToString(inv),
            ["min_gain"] = options.MinGain.ToString(inv),
            ["max_noise"] = options.MaxNoise.ToString(inv),
            ["seed"] = options.Seed.ToString(inv),
        });
        Console.Out.WriteLine(string.Create(inv,
            $"held-out accuracy {result.HeldOutAccuracy:P2} ({split.HeldOut.Count} clips), {result.Steps} steps in {result.Elapsed.TotalSeconds:0.0} s, {model.ParameterCount} parameters"));
        WriteCalibration("Fréchet distance on the classifier's features against the held-out clips", "Fréchet distance", calibration);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{outDir}[/]");
        return 0;
    }

    /// <summary>Whether a <c>--data</c> source is audio: the bundled spoken digits, or a folder holding WAV files and no images.</summary>
    internal static bool IsAudio(string source)
    {
        if (new DataSpec(source).IsAudio) return true;
        if (!Directory.Exists(source)) return false;
        var files = Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories).Select(Path.GetExtension).ToList();
        return files.Any(e => string.Equals(e, ".wav", StringComparison.OrdinalIgnoreCase))
            && !files.Any(e => e is not null && ImageFolderDataset.ImageExtensions.Contains(e));
    }

    /// <summary>Prints a calibration as a Markdown table (what the classifiers' READMEs quote).</summary>
    private static void WriteCalibration(string title, string distance, IReadOnlyList<CalibrationEntry> calibration)
    {
        Console.Out.WriteLine($"calibration ({title}):");
        Console.Out.WriteLine($"| set | N | {distance} | top-1 |");
        Console.Out.WriteLine("|---|---|---|---|");
        foreach (var e in calibration)
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {e.Description} | {e.Count} | {e.Fid:0.00} | {(e.Top1 is { } t ? t.ToString("P2", CultureInfo.InvariantCulture) : "-")} |"));
    }
}