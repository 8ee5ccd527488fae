using System.ComponentModel;
using System.Globalization;
using DiffusionSharp.Audio;
using DiffusionSharp.Data;
using DiffusionSharp.Distributed;
using DiffusionSharp.Evaluation;
using DiffusionSharp.Imaging;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;
using DiffusionSharp.Samplers;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse sample</c>: generate images from a trained run or any diffusers UNet2DModel folder.</summary>
public sealed class SampleCommand : Command<SampleCommand.Settings>
{
    public sealed class Settings : DenoiseSettings
    {





        [CommandOption("--prompt <TEXT>")]
        [Description("Text-to-image with a Stable Diffusion pipeline folder (model_index.json with text_encoder, tokenizer, unet, vae, scheduler): the prompt; cut to 77 tokens with a warning.")]
        public string? Prompt { get; init; }

        [CommandOption("--prompt-file <FILE>")]
        [Description("Like --prompt, with many prompts: a UTF-8 text file of one prompt per line (blank lines skipped); --count images per prompt, one grid row each; image i of the whole run from seed + i.")]
        public string? PromptFile { get; init; }

        /// <summary>Text to image: --prompt or --prompt-file.</summary>
        internal bool Prompted => Prompt is not null || PromptFile is not null;

        [CommandOption("--negative-prompt <TEXT>")]
        [Description("With --prompt: what classifier-free guidance steers away from (default: the empty prompt).")]
        public string? NegativePrompt { get; init; }

        [CommandOption("--size <WxH>")]
        [Description("With --prompt: the image size, both sides multiples of the VAE factor (8 for SD); default unet sample_size x 8.")]
        public string? Size { get; init; }

        [CommandOption("--count <N>")]
        [DefaultValue(64)]
        public int Count { get; init; } = 64;

        [CommandOption("--batch <B>")]
        [Description("Images per network batch.")]
        [DefaultValue(64)]
        public int Batch { get; init; } = 64;


        [CommandOption("--class <N|NAME|all>")]
        [Description("Class-conditional models: the class to draw (its number, or its name from the run's class_names.json), 'all' for one row per class, or a comma-separated list of classes for one row per listed class (--count split evenly).")]
        public string? Class { get; init; }


        [CommandOption("--out <PNG>")]
        [Description("The sample grid.")]
        [DefaultValue("samples.png")]
        public string Out { get; init; } = "samples.png";

        [CommandOption("--nrow <N>")]
        [Description("Images per grid row (default: about the square root of --count).")]
        public int? Nrow { get; init; }

        [CommandOption("--trajectory <PNG>")]
        [Description("Also write the reverse process for the first samples: x_t and the predicted x_0 at --frames steps (audio models: their spectrograms).")]
        public string? Trajectory { get; init; }

        [CommandOption("--frames <N>")]
        [DefaultValue(10)]
        public int Frames { get; init; } = 10;

        [CommandOption("--trajectory-samples <N>")]
        [DefaultValue(4)]
        public int TrajectorySamples { get; init; } = 4;

        [CommandOption("--single-shift")]
        [Description("Flow-matching samplers: apply the shift once, s*sigma/(1+(s-1)*sigma), instead of diffusers 0.30.3's twice (its issue #13243).")]
        public bool SingleShift { get; init; }

        [CommandOption("--eval")]
        [Description("Score the samples as diffuse eval does (--count >= 100): FID-MNIST for 28x28 grayscale models; for audio models (8,192-sample clips at 8 kHz) the spoken-digit classifier's Fréchet distance and, with --class, the accuracy against the requested digits.")]
        public bool Eval { get; init; }

        [CommandOption("--individual <FOLDER>")]
        [Description("Also write every image as its own PNG (audio models: every clip as a 16-bit WAV at the model's rate).")]
        public string? Individual { get; init; }

        [CommandOption("--csv <FILE>")]
        [Description("1-D models: also write the samples as CSV, one series per row, in the data's units when the run has a normalization.json (trained on a CSV of series).")]
        public string? Csv { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } bad) return bad;
            if (Prompt is not null && PromptFile is not null) return ValidationResult.Error("--prompt and --prompt-file cannot be used together");
            if (!Prompted && (NegativePrompt is not null || Size is not null))
                return ValidationResult.Error($"{(NegativePrompt is not null ? "--negative-prompt" : "--size")} needs --prompt (text-to-image with a Stable Diffusion pipeline folder)");
            if (Prompted && (Class is not null || Trajectory is not null || Eval || SingleShift))
                return ValidationResult.Error($"{(Class is not null ? "--class" : Trajectory is not null ? "--trajectory" : Eval ? "--eval" : "--single-shift")} cannot be used with --prompt (text-to-image with a Stable Diffusion pipeline)");
            if (Prompted && Csv is not null) return ValidationResult.Error("--csv cannot be used with --prompt: it writes 1-D samples (series or clips)");
            if (Size is not null && TextToImageSample.ParseSize(Size) is null)
                return ValidationResult.Error($"--size must be WxH with positive integers, e.g. 512x512 (got '{Size}')");
            if (Count < 1) return ValidationResult.Error($"--count must be at least 1 (got {Count})");
            if (Batch < 1) return ValidationResult.Error($"--batch must be at least 1 (got {Batch})");
            if (Frames < 2) return ValidationResult.Error($"--frames must be at least 2 (got {Frames})");
            if (TrajectorySamples < 1) return ValidationResult.Error($"--trajectory-samples must be at least 1 (got {TrajectorySamples})");
            if (Eval && Count < Evaluation.DigitEvaluation.MinSamples)
                return ValidationResult.Error($"--eval needs --count of at least {Evaluation.DigitEvaluation.MinSamples}: a Fréchet distance from fewer samples is meaningless");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        if (s.Prompted) return TextToImageSample.Run(s, cancellationToken);
        bool writes = DistributedJob.Rank == 0;
        if (writes) CliFiles.CheckWritable(s.Out, "--out");
        if (writes && s.Trajectory is not null) CliFiles.CheckWritable(s.Trajectory, "--trajectory");
        if (writes && s.Csv is not null) CliFiles.CheckWritable(s.Csv, "--csv");
        if (s.Sampler is not null) SamplerCatalog.Get(s.Sampler);
        var group = DistributedJob.Join();
        var device = TorchRuntime.Initialize(DistributedJob.Threads(s.Threads), s.Device);
        using var pipeline = DiffusionPipeline.Load(s.Model!, s.Ema, s.Sampler, s.Eta, s.Karras, s.TimestepSpacing, device, s.SingleShift);
        var audio = pipeline.Denoiser.Config as AudioUNet1DConfig;
        using var audioEvaluation = audio is not null && s.Eval && writes ? SpokenDigitEvaluation.Open(ShippedClassifier.SpokenDigitDirectory) : null;
        if (audio is not null && s.Eval && SeriesBatch.FindNormalization(s.Model!) is not null)
            throw new InvalidInputException($"--eval: scores spoken digits; {s.Model} is a time-series model");
        audioEvaluation?.CheckClips(audio!.SampleRate, audio.SampleSize, audio.InChannels, "--eval");
        if (audio is null && s.Csv is not null) throw new InvalidInputException($"--csv: writes 1-D samples (series or clips); {s.Model} is an image model");
        var normalization = audio is null ? null : SeriesBatch.FindNormalization(s.Model!);
        if (normalization is not null && s.Individual is not null)
            throw new InvalidInputException($"--individual: {s.Model} is a time-series model (it has {SeriesNormalization.FileName}); write its samples with --csv");
        var (labels, count, nrow) = Labels(s, pipeline);
        if (pipeline.Scheduler.Schedule is { } schedule && s.Steps > schedule.NumTrainTimesteps)
            throw new InvalidInputException($"--steps {s.Steps} exceeds the model's {schedule.NumTrainTimesteps} training timesteps");

        // This rank's samples: a contiguous run of whole batches, so each batch holds the same samples whatever the rank count.
        var (first, mine) = SampleShards.RangeOf(count, s.Batch, group?.Rank ?? 0, group?.Count ?? 1);
        var recorder = s.Trajectory is null || !writes ? null : new TrajectoryRecorder(s.Frames, Math.Min(s.TrajectorySamples, Math.Min(count, s.Batch)),
            pipeline.DecodesSamples ? pipeline.Decode : null);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Tensor? shard = null;
        AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            if (mine == 0) return;
            int batches = (mine + s.Batch - 1) / s.Batch;
            var task = ctx.AddTask($"sampling {count}{(group is null ? "" : $" on {group.Count} ranks")} with {pipeline.Scheduler.Name}", maxValue: batches * (double)s.Steps);
            shard = pipeline.GenerateRange(first, mine, s.Steps, s.Seed, labels?.Skip(first).Take(mine).ToArray(), s.Guidance, s.Batch, (batch, step) =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                task.Increment(1);
                if (batch == 0) recorder?.Record(step);
            });
        });
        Tensor? images = shard;
        if (group is not null)
        {
            using (shard) images = SampleShards.GatherToRankZero(group, shard, count, s.Batch, pipeline.OutputShape);
        }
        if (images is null) return DiffuseApp.Ok;
        using (images)
        {
            double seconds = clock.Elapsed.TotalSeconds;
            if (normalization is not null)
            {
                var series = SeriesBatch.Values(images, normalization);
                Plots.SaveSeriesGrid(s.Out, series, nrow);
                if (s.Csv is { } table) TimeSeriesDataset.WriteCsv(table, series);
                recorder?.Save(s.Trajectory!, pipeline.Scheduler.Name);
                recorder?.Dispose();
                AnsiConsole.MarkupLineInterpolated(
                    $"wrote [green]{s.Out}[/] (line plots in the data's units){(s.Csv is null ? "" : $" and {count} series in {s.Csv}")}: {pipeline.Scheduler.Name} {s.Steps} steps, seed {s.Seed}, {seconds:F1} s");
                if (s.Trajectory is not null) AnsiConsole.MarkupLineInterpolated($"wrote [green]{s.Trajectory}[/]");
                return DiffuseApp.Ok;
            }
            if (audio is not null)
            {
                WaveformPicture.SavePng(images, s.Out, nrow);
                if (s.Csv is { } clipTable)
                {
                    SeriesBatch.SaveCsv(images, clipTable, null);
                    AnsiConsole.MarkupLineInterpolated($"wrote [green]{clipTable}[/]: {count} clips, one per row, values in [-1, 1]");
                }
                if (s.Individual is { } folder)
                {
                    var wavs = WavBatch.Save(images, folder, audio.SampleRate);
                    // The requested class of each clip, audiofolder-style, so diffuse eval can score the folder's accuracy.
                    if (labels is not null) WriteRequestedLabels(folder, wavs.Select(w => Path.GetFileName(w)).ToArray(), labels, s.Model!);
                }
                recorder?.Save(s.Trajectory!, pipeline.Scheduler.Name);
                recorder?.Dispose();
                if (audioEvaluation is not null)
                {
                    var requested = labels is null ? null : audioEvaluation.MapLabels(labels, ClassNamesFile.Read(s.Model!), "--eval");
                    EvalCommand.WriteReport(s.Out, audioEvaluation.Evaluate(images, requested), ShippedClassifier.SpokenDigitDirectory, audioEvaluation.Classifier.ClassNames);
                }
                AnsiConsole.MarkupLineInterpolated(
                    $"wrote [green]{s.Out}[/] (waveforms and spectrograms){(s.Individual is null ? "" : $" and {count} WAVs ({audio.SampleRate} Hz, 16-bit) in {s.Individual}")}: {pipeline.Scheduler.Name} {s.Steps} steps, seed {s.Seed}, {seconds:F1} s");
                if (s.Trajectory is not null) AnsiConsole.MarkupLineInterpolated($"wrote [green]{s.Trajectory}[/] (the reverse process as spectrograms)");
                return DiffuseApp.Ok;
            }
            ImageGrid.SavePng(images, s.Out, nrow);
            if (s.Individual is { } dir)
            {
                Directory.CreateDirectory(dir);
                var pixels = PixelImage.FromBatch(images);
                var files = new string[pixels.Length];
                for (int i = 0; i < pixels.Length; i++)
                {
                    files[i] = $"{i:D5}.png";
                    ImageFile.SavePng(pixels[i], Path.Combine(dir, files[i]));
                }
                // The requested class of each image, imagefolder-style, so diffuse eval can score guided accuracy.
                if (labels is not null) WriteRequestedLabels(dir, files, labels, s.Model!);
            }
            recorder?.Save(s.Trajectory!, pipeline.Scheduler.Name);
            if (s.Eval)
            {
                using var evaluation = Evaluation.DigitEvaluation.Open();
                var report = evaluation.Evaluate(images, labels?.Select(l => (int)l).ToArray());
                EvalCommand.WriteReport(s.Out, report);
            }
            AnsiConsole.MarkupLineInterpolated(
                $"wrote [green]{s.Out}[/]: {count} images, {pipeline.Scheduler.Name} {s.Steps} steps, seed {s.Seed}, {seconds:F1} s ({count / seconds:F2} images/s)");
            if (s.Trajectory is not null) AnsiConsole.MarkupLineInterpolated($"wrote [green]{s.Trajectory}[/]");
        }
        recorder?.Dispose();
        return DiffuseApp.Ok;
    }

    /// <summary>
    /// Writes the <c>metadata.jsonl</c> of an <c>--individual</c> folder: each file's requested class, by its name in the
    /// model's class names (the index when it has none), so <c>diffuse eval</c> reads the folder as a labelled set.
    /// </summary>
    private static void WriteRequestedLabels(string folder, IReadOnlyList<string> files, long[] labels, string model)
    {
        var names = ClassNamesFile.Read(model);
        Data.AudioFolderMetadata.Write(folder, files,
            labels.Select(l => names is not null && l < names.Count ? names[(int)l] : l.ToString(CultureInfo.InvariantCulture)).ToArray());
    }

    private static (long[]? Labels, int Count, int? Nrow) Labels(Settings s, DiffusionPipeline pipeline) =>
        SampleClasses.Resolve(s.Class, s.Count, pipeline.NumClasses, s.Guidance, s.Nrow, ClassNamesFile.Read(s.Model!));
}
