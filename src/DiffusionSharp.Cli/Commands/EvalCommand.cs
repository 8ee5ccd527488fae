using System.ComponentModel;
using System.Globalization;
using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using DiffusionSharp.Imaging;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli.Commands;

/// <summary>
/// <c>diffuse eval</c>: scores generated MNIST-like digits (a folder of 28 x 28 PNGs, a grid PNG, or an IDX file) with the
/// shipped classifier: FID-MNIST against 2,000 real held-out digits, mean confidence, class histogram and entropy, and
/// accuracy against requested labels. <c>--calibrate</c> prints the scores of known sets instead, to read the scale.
/// A folder of WAVs (or <c>--classifier</c> naming a <see cref="SpokenDigitClassifier"/>) is scored as audio: the Fréchet
/// distance on the spoken-digit classifier's features against its held-out clips, and accuracy against the classes in
/// the folder's <c>metadata.jsonl</c>.
/// </summary>
public sealed class EvalCommand : Command<EvalCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandArgument(0, "[SAMPLES]")]
        [Description("A folder of 28x28 grayscale images, a grid PNG (with --grid-columns), or an IDX image file (.gz or raw); or a folder of WAVs (8,192 samples at 8 kHz, e.g. from sample --individual; its metadata.jsonl labels add the accuracy).")]
        public string? Samples { get; init; }

        [CommandOption("--grid-columns <N>")]
        [Description("SAMPLES is a grid PNG with N cells per row (as written by the sampler's grid output).")]
        public int? GridColumns { get; init; }

        [CommandOption("--grid-rows <N>")]
        [Description("Check that the grid has N rows (default: derived from its height).")]
        public int? GridRows { get; init; }

        [CommandOption("--padding <PX>")]
        [Description("Gap between grid cells in pixels.")]
        [DefaultValue(ImageGrid.DefaultPadding)]
        public int Padding { get; init; } = ImageGrid.DefaultPadding;

        [CommandOption("--scale <K>")]
        [Description("Enlargement of the grid cells (default: derived from the width; 3 for ImageGrid's default).")]
        public int? Scale { get; init; }

        [CommandOption("--count <N>")]
        [Description("Evaluate only the first N samples.")]
        public int? Count { get; init; }

        [CommandOption("--labels <FILE>")]
        [Description("Requested class of each sample: an IDX label file or a text file of digits 0-9; adds the accuracy.")]
        public string? Labels { get; init; }

        [CommandOption("--classifier <DIR>")]
        [Description("Classifier folder (default: the shipped models/mnist-classifier, or models/spoken-digit-classifier for WAVs). With --nearest-to, a colour classifier folder (e.g. models/emoji-classifier) adds FID against its held-out images.")]
        public string? Classifier { get; init; }

        [CommandOption("--calibrate")]
        [Description("Instead of SAMPLES, score known sets (real, blurred, half the classes, noise) to show the scale.")]
        public bool Calibrate { get; init; }

        [CommandOption("--nearest-to <DATA>")]
        [Description("Instead of FID-MNIST, the memorisation check: each image of SAMPLES (a folder, e.g. from sample --individual) against its nearest image of this training data (mnist, emoji, a folder or an IDX file) in pixel L2.")]
        public string? NearestTo { get; init; }

        [CommandOption("--vae <FOLDER>")]
        [Description("With --nearest-to, for a latent model's samples: compare with the training images as this autoencoder (a VAE folder, or a pipeline folder with vae/) reconstructs them, since a memorised latent decodes to the reconstruction, not to the original pixels.")]
        public string? Vae { get; init; }

        [CommandOption("--near-copy <D>")]
        [Description("With --nearest-to: the RMS pixel distance (values from -1 to 1) below which a sample counts as a near-copy.")]
        [DefaultValue(Memorisation.DefaultThreshold)]
        public double NearCopy { get; init; } = Memorisation.DefaultThreshold;

        [CommandOption("--json")]
        [Description("Print the report as JSON on stdout.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } failed) return failed;
            if (Calibrate == Samples is not null)
                return ValidationResult.Error(Calibrate ? "give either SAMPLES or --calibrate, not both" : "SAMPLES: expected a folder, grid PNG or IDX file (or --calibrate)");
            if (GridColumns is < 1) return ValidationResult.Error($"--grid-columns must be at least 1 (got {GridColumns})");
            if (GridRows is < 1) return ValidationResult.Error($"--grid-rows must be at least 1 (got {GridRows})");
            if (GridRows is not null && GridColumns is null) return ValidationResult.Error("--grid-rows needs --grid-columns");
            if (Padding < 0) return ValidationResult.Error($"--padding must be at least 0 (got {Padding})");
            if (Scale is < 1) return ValidationResult.Error($"--scale must be at least 1 (got {Scale})");
            if (!(NearCopy > 0)) return ValidationResult.Error($"--near-copy must be a positive distance (got {NearCopy})");
            if (Vae is not null && NearestTo is null) return ValidationResult.Error("--vae needs --nearest-to (it changes what the memorisation check compares with)");
            if (NearestTo is not null && (Calibrate || GridColumns is not null || Labels is not null))
                return ValidationResult.Error("--nearest-to reads SAMPLES as a folder of images; it takes no --calibrate, --grid-columns or --labels");
            if (NearestTo is null && Count is < DigitEvaluation.MinSamples)
                return ValidationResult.Error($"--count must be at least {DigitEvaluation.MinSamples} (got {Count}); with fewer samples the Fréchet distance is meaningless");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var device = TorchRuntime.Initialize(settings.Threads, settings.Device);
        if (settings.NearestTo is { } training) return CheckMemorisation(settings, training, device);
        if (IsAudio(settings)) return EvaluateAudio(settings);
        using var evaluation = DigitEvaluation.Open(settings.Classifier);
        if (settings.Calibrate)
        {
            var entries = DigitCalibration.Run(evaluation, IdxDataset.Mnist());
            if (settings.Json)
            {
                Console.Out.WriteLine("[" + string.Join(",\n", entries.Select(e => $"{{\"name\": \"{e.Name}\", \"report\": {e.Report.ToJson()}}}")) + "]");
                return 0;
            }
            WriteCalibration(entries);
            return 0;
        }

        var path = settings.Samples!;
        using var samples = DigitSamples.Load(path, settings.GridColumns, settings.GridRows, settings.Padding, settings.Scale, settings.Count);
        int[]? labels = null;
        if (settings.Labels is { } labelsPath)
        {
            labels = DigitSamples.LoadLabels(labelsPath);
            if (labels.Length < samples.shape[0])
                throw new InvalidInputException($"--labels: {labelsPath} has {labels.Length} labels, expected one per sample ({samples.shape[0]})");
            labels = labels[..(int)samples.shape[0]];
        }
        var report = evaluation.Evaluate(samples, labels);
        if (settings.Json) Console.Out.WriteLine(report.ToJson());
        else WriteReport(path, report);
        return 0;
    }

    /// <summary>Compares every image of the SAMPLES folder with its nearest training image and prints the near-copy fraction.</summary>
    private static int CheckMemorisation(Settings settings, string trainingSource, TorchSharp.torch.Device device)
    {
        var path = settings.Samples!;
        if (!Directory.Exists(path)) throw new InvalidInputException($"SAMPLES: --nearest-to needs a folder of sample images, and {path} is not a folder");
        // The samples' own size decides the training images' resolution (resize + centre crop, as in training).
        var first = Directory.EnumerateFiles(path).Where(f => ImageFolderDataset.ImageExtensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal).FirstOrDefault()
            ?? throw new InvalidInputException($"SAMPLES: {path} holds no images ({string.Join(", ", ImageFolderDataset.ImageExtensions)})");
        int side = ImageFile.LoadPixels(first).Height;
        IImageDataset data = new DataSpec(trainingSource, ImageSize: side).Open(side);
        using var vae = settings.Vae is { } vaeFolder
            ? Models.Autoencoders.AutoencoderLoader.FromPretrained(vaeFolder, device)
            : null;
        if (vae is not null) data = new ReconstructedImageDataset(data, vae);
        var samples = ImageFolderDataset.Open(path, data.Height, grayscale: data.Channels == 1, strict: true);
        int n = Math.Min(samples.Count, settings.Count ?? int.MaxValue);
        var values = new float[n * samples.Channels * samples.Height * samples.Width];
        samples.FillBatch(Enumerable.Range(0, n).ToArray(), values, Span<long>.Empty);
        using var images = TorchSharp.torch.tensor(values, [n, samples.Channels, samples.Height, samples.Width]);
        var report = Memorisation.Check(images, data, settings.NearCopy);
        var fid = settings.Classifier is { } classifierDir && File.Exists(Path.Combine(classifierDir, ImageClassifier.ClassNamesFileName))
            ? ColourFid(classifierDir, path, n) : ((double Fid, int Reference, double? Accuracy, string? Column, int? Scored)?)null;
        if (settings.Json)
        {
            Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
            {
                samples = report.SampleCount,
                training_images = report.TrainingCount,
                threshold = report.Threshold,
                compared_with = vae is null ? "training images" : "training images reconstructed by the VAE",
                near_copies = report.NearCopyCount,
                near_copy_fraction = report.NearCopyFraction,
                median_distance = report.MedianDistance,
                fid = fid?.Fid,
                fid_reference_images = fid?.Reference,
                accuracy = fid?.Accuracy,
                accuracy_column = fid?.Column,
                accuracy_samples = fid?.Scored,
                distances = report.Distances,
                nearest_indices = report.NearestIndices,
            }, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Title($"{Markup.Escape(path)}: {report.SampleCount} samples against {report.TrainingCount} training images ({Markup.Escape(trainingSource)}{(vae is null ? "" : $", as {Markup.Escape(settings.Vae!)} reconstructs them")})")
            .AddColumns("score", "value", "reading");
        table.AddRow("near-copies", $"{report.NearCopyCount}/{report.SampleCount} ({F(report.NearCopyFraction, "0.0%")})",
            Markup.Escape($"nearest training image closer than RMS {F(report.Threshold, "0.###")} (values in [-1, 1])"));
        table.AddRow("median distance", F(report.MedianDistance, "0.0000"), "RMS pixel distance to the nearest training image");
        if (fid is { } f)
            table.AddRow("FID", F(f.Fid, "0.00"), Markup.Escape($"on {settings.Classifier}'s features vs its {f.Reference} held-out images; see its README for the scale"));
        if (fid is { Accuracy: double accuracy } g)
            table.AddRow("accuracy", F(accuracy, "0.00%"), Markup.Escape(g.Scored is { } scored
                ? $"the classifier's class is the {g.Column} of the training image captioned as the sample's prompt ({scored} of {n} samples' prompts are training captions)"
                : $"the classifier's class, as a {g.Column}, is the requested one (metadata.jsonl)"));
        int closest = Enumerable.Range(0, report.SampleCount).MinBy(i => report.Distances[i]);
        table.AddRow("closest sample", F(report.Distances[closest], "0.0000"), $"sample {closest} ({Markup.Escape(Path.GetFileName(samples.Files[closest]))}), training image {report.NearestIndices[closest]}");
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>
    /// FID of the first <paramref name="count"/> images of <paramref name="samplesFolder"/> (resized to the classifier's
    /// resolution) against the held-out images the colour classifier in <paramref name="classifierDir"/> was trained
    /// without (its split is rebuilt from the data, label column, fraction and seed in its weights' metadata).
    /// </summary>
    /// When the samples folder's <c>metadata.jsonl</c> has a <c>label</c> column (as <c>sample --individual</c> writes for
    /// a class-conditional model), also the accuracy: the share of samples whose predicted class, mapped to the column
    /// of the data the requested labels come from (<see cref="RequestedClassMapping"/>), is the requested one.
    /// Samples of a text-to-image model (<c>sample --prompt --individual</c> writes each file's prompt in a <c>text</c> column)
    /// are scored the same way when a prompt is a caption of the training data: the requested class is the classifier
    /// column's value of the training image with that caption; the other samples are left out (Scored counts the rest).
    private static (double Fid, int Reference, double? Accuracy, string? Column, int? Scored) ColourFid(string classifierDir, string samplesFolder, int count)
    {
        using var classifier = ImageClassifier.Load(classifierDir);
        var weights = Path.Combine(classifierDir, ImageClassifier.WeightsFileName);
        var meta = DiffusionSharp.IO.SafetensorsFile.ReadHeader(weights).Metadata;
        string Key(string k) => meta.TryGetValue(k, out var v) ? v : throw new InvalidInputException($"--classifier: {weights} has no '{k}' in its metadata; retrain it with diffuse eval-classifier train --data");
        var side = classifier.Config.ImageSize;
        var real = new DataSpec(Key("data"), ImageSize: side, LabelColumn: Key("label_column")).Open(side);
        var labels = new long[real.Count];
        real.FillBatch(Enumerable.Range(0, real.Count).ToArray(), new float[(long)real.Count * real.ImageSize], labels);
        var split = StratifiedSplit.Create(labels, double.Parse(Key("held_out_fraction"), CultureInfo.InvariantCulture),
            long.Parse(Key("seed"), CultureInfo.InvariantCulture));
        var samplesMetadata = Path.Combine(samplesFolder, ImageFolderMetadata.FileName);
        var samplesMeta = File.Exists(samplesMetadata) ? ImageFolderMetadata.Read(samplesMetadata) : null;
        var labelled = samplesMeta?.Column(RequestedLabelColumn) is not null;
        var prompts = labelled ? null : samplesMeta?.Column(ImageFolderMetadata.TextColumn);
        var samples = ImageFolderDataset.Open(samplesFolder, side, grayscale: classifier.Config.InChannels == 1, strict: true,
            labelColumn: labelled ? RequestedLabelColumn : null);
        if (count < 2) throw new InvalidInputException($"SAMPLES: {samplesFolder}: FID needs at least 2 images, found {count}");
        using var scope = TorchSharp.torch.NewDisposeScope();
        var (held, _) = ImageClassifierTrainer.Read(real, split.HeldOut);
        var (generated, _) = ImageClassifierTrainer.Read(samples, Enumerable.Range(0, count).ToArray());
        var fid = FrechetDistance.Compute(ImageClassifierTrainer.Features(classifier, held), ImageClassifierTrainer.Features(classifier, generated));
        var dataMetadata = real is ImageFolderDataset folder && File.Exists(Path.Combine(folder.Root, ImageFolderMetadata.FileName))
            ? ImageFolderMetadata.Read(Path.Combine(folder.Root, ImageFolderMetadata.FileName)) : null;
        if (prompts is not null && dataMetadata is not null)
            return PromptedAccuracy(classifier, generated, samples, samplesMeta!, prompts, dataMetadata, Key("label_column")) is var (promptedAccuracy, scored)
                ? (fid, split.HeldOut.Count, promptedAccuracy, Key("label_column"), scored) : (fid, split.HeldOut.Count, null, null, null);
        if (!labelled) return (fid, split.HeldOut.Count, null, null, null);
        var requested = Enumerable.Range(0, count).Select(i => samples.ClassNames[samples.GetLabel(i)]).ToArray();
        var mapping = RequestedClassMapping.Find(classifier.ClassNames, Key("label_column"), requested.Distinct().ToArray(), dataMetadata)
            ?? throw new InvalidInputException(
                $"SAMPLES: {samplesMetadata}: its labels (e.g. '{requested[0]}') are neither classes of {classifierDir} nor values of a column of {Key("data")} that its classes ({Key("label_column")}) determine");
        var accuracy = mapping.Accuracy(ImageClassifierTrainer.Predict(classifier, generated), requested);
        return (fid, split.HeldOut.Count, accuracy, mapping.Column, null);
    }

    /// <summary>
    /// The accuracy of prompted samples whose prompt is a training caption: the classifier's class against the
    /// <paramref name="classColumn"/> value of the training image with that caption (captions with two different values
    /// are left out); null when no sample's prompt is a training caption.
    /// </summary>
    private static (double Accuracy, int Scored)? PromptedAccuracy(ImageClassifier classifier, TorchSharp.torch.Tensor generated,
        ImageFolderDataset samples, ImageFolderMetadata samplesMeta, IReadOnlyList<string?> prompts, ImageFolderMetadata data, string classColumn)
    {
        if (data.Column(ImageFolderMetadata.TextColumn) is not { } captions || data.Column(classColumn) is not { } classes) return null;
        var classOf = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i < captions.Count; i++)
            if (captions[i] is { } caption && classes[i] is { } value)
                classOf[caption] = classOf.TryGetValue(caption, out var seen) && seen != value ? null : value;
        var promptOf = samplesMeta.Files.Select(f => Path.GetFullPath(Path.Combine(samples.Root, f))).Zip(prompts)
            .ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        var predicted = ImageClassifierTrainer.Predict(classifier, generated);
        int scored = 0, hits = 0;
        for (var i = 0; i < predicted.Length; i++)
        {
            if (promptOf.GetValueOrDefault(Path.GetFullPath(samples.Files[i])) is not { } prompt || classOf.GetValueOrDefault(prompt) is not { } wanted) continue;
            scored++;
            if (classifier.ClassNames[(int)predicted[i]] == wanted) hits++;
        }
        return scored == 0 ? null : ((double)hits / scored, scored);
    }

    /// <summary>The <c>metadata.jsonl</c> column of a samples folder holding each sample's requested class.</summary>
    private const string RequestedLabelColumn = "label";

    /// <summary>Audio when the classifier is a spoken-digit one, or, without a classifier, when SAMPLES is a folder holding WAV files.</summary>
    private static bool IsAudio(Settings settings) =>
        settings.Classifier is { } dir ? SpokenDigitClassifier.IsClassifierFolder(dir)
        : settings.Samples is { } path && Directory.Exists(path)
          && Directory.EnumerateFiles(path, "*.wav", new EnumerationOptions { RecurseSubdirectories = true, MatchCasing = MatchCasing.CaseInsensitive }).Any();

    /// <summary>Scores a folder of WAVs (or, with --calibrate, prints the classifier's calibration) with a spoken-digit classifier.</summary>
    private static int EvaluateAudio(Settings settings)
    {
        if (settings.GridColumns is not null || settings.Labels is not null)
            throw new InvalidInputException("--grid-columns and --labels read images; audio samples are a folder of WAVs whose labels are in its metadata.jsonl");
        var classifierDir = settings.Classifier ?? ShippedClassifier.SpokenDigitDirectory;
        if (settings.Calibrate)
        {
            using var model = SpokenDigitClassifier.Load(classifierDir);
            var (data, split) = SpokenDigitEvaluation.HeldOut(classifierDir, model);
            var entries = SpokenDigitTrainer.Calibrate(model, data, split);
            if (settings.Json)
            {
                Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(entries.Select(e => new { name = e.Name, description = e.Description, count = e.Count, frechet_distance = e.Fid, accuracy = e.Top1 }),
                    new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            var calibration = new Table().Title($"Fréchet distance calibration ({Markup.Escape(classifierDir)} features, reference: its {split.HeldOut.Count} held-out clips)")
                .AddColumns("set", "N", "Fréchet distance", "accuracy");
            foreach (var e in entries)
                calibration.AddRow(Markup.Escape(e.Description), e.Count.ToString(CultureInfo.InvariantCulture), F(e.Fid, "0.00"), e.Top1 is { } a ? F(a, "0.00%") : "-");
            AnsiConsole.Write(calibration);
            return 0;
        }
        var path = settings.Samples!;
        using var evaluation = SpokenDigitEvaluation.Open(classifierDir);
        var (clips, labels) = SpokenDigitEvaluation.LoadSamples(path, evaluation.Classifier, settings.Count);
        using (clips)
        {
            var r = evaluation.Evaluate(clips, labels);
            if (settings.Json)
            {
                Console.Out.WriteLine(r.ToJson());
                return 0;
            }
            WriteReport(path, r, classifierDir, evaluation.Classifier.ClassNames);
        }
        return 0;
    }

    /// <summary>Prints a spoken-digit evaluation report as a table (also used by <c>sample --eval</c> on audio models).</summary>
    internal static void WriteReport(string path, SpokenDigitEvaluationReport r, string classifierDir, IReadOnlyList<string> classNames)
    {
        var table = new Table().Title($"{Markup.Escape(path)}: {r.SampleCount} clips").AddColumns("score", "value", "reading");
        table.AddRow("Fréchet distance", F(r.FrechetDistance, "0.00"),
            Markup.Escape($"on {classifierDir}'s features vs its {r.ReferenceCount} held-out real clips; 0 = same distribution; see its README for the scale"));
        table.AddRow("mean confidence", F(r.MeanConfidence, "0.000"), "mean max softmax");
        if (r.Accuracy is double accuracy) table.AddRow("accuracy", F(accuracy, "0.00%"), "classified as the requested class");
        table.AddRow($"classes {Markup.Escape(string.Join(" ", classNames))}", string.Join(" ", r.ClassCounts), "clips per predicted class");
        if (r.ClassAccuracy is { } perClass)
            table.AddRow("accuracy per requested class", string.Join(" ", perClass.Select(a => a is double v ? F(v, "0%") : "-")), "in the class order above");
        AnsiConsole.Write(table);
    }

    /// <summary>Prints an evaluation report as a table (also used by <c>sample --eval</c>).</summary>
    internal static void WriteReport(string path, DigitEvaluationReport r)
    {
        var table = new Table().Title($"{Markup.Escape(path)}: {r.SampleCount} samples").AddColumns("score", "value", "reading");
        table.AddRow("FID-MNIST", F(r.FidMnist, "0.00"), $"vs {r.ReferenceCount} held-out real digits; 0 = same distribution, lower is better");
        table.AddRow("mean confidence", F(r.MeanConfidence, "0.000"), "mean max softmax; real digits ≈ 0.99");
        table.AddRow("class entropy", F(r.ClassEntropy, "0.000"), $"mode coverage; max ln 10 = {F(DigitEvaluationReport.MaxClassEntropy, "0.000")}");
        if (r.Accuracy is double a) table.AddRow("accuracy", F(a, "0.00%"), "classified as the requested label");
        table.AddRow("classes 0-9", string.Join(" ", r.ClassCounts), "samples per predicted class");
        AnsiConsole.Write(table);
    }

    private static void WriteCalibration(IReadOnlyList<DigitCalibration.Entry> entries)
    {
        var table = new Table().Title("FID-MNIST calibration (reference: 2,000 held-out MNIST digits)")
            .AddColumns("set", "N", "FID-MNIST", "confidence", "entropy", "accuracy");
        foreach (var e in entries)
        {
            var r = e.Report;
            table.AddRow(Markup.Escape(e.Description), r.SampleCount.ToString(CultureInfo.InvariantCulture), F(r.FidMnist, "0.00"),
                F(r.MeanConfidence, "0.000"), F(r.ClassEntropy, "0.000"), r.Accuracy is double a ? F(a, "0.00%") : "-");
        }
        AnsiConsole.Write(table);
    }

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
