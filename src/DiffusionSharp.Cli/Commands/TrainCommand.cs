using System.ComponentModel;
using DiffusionSharp.Data;
using DiffusionSharp.Imaging;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse train</c>: train a U-Net on images; the run folder is a diffusers pipeline folder.</summary>
public sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("--data <SOURCE>")]
        [Description("mnist (the bundled 10,000 digits), a folder of images (subfolders = classes), or an IDX images file.")]
        [DefaultValue("mnist")]
        public string Data { get; init; } = "mnist";

        [CommandOption("--labels <IDX>")]
        [Description("IDX labels file for an IDX --data file.")]
        public string? Labels { get; init; }

        [CommandOption("--image-size <N>")]
        [Description("Resize and centre-crop folder images to N x N (default: the model's sample_size).")]
        public int? ImageSize { get; init; }

        [CommandOption("--grayscale")]
        [Description("Read folder images as one channel.")]
        public bool Grayscale { get; init; }

        [CommandOption("--flip")]
        [Description("Random horizontal flips (not for digits).")]
        public bool Flip { get; init; }

        [CommandOption("--strict")]
        [Description("Stop at the first unreadable image instead of skipping it.")]
        public bool Strict { get; init; }

        [CommandOption("--model <PRESET|CONFIG>")]
        [Description("Architecture: mnist-tiny, mnist-small, cifar10-ddpm, or a UNet2DModel config.json.")]
        [DefaultValue("mnist-tiny")]
        public string Model { get; init; } = "mnist-tiny";

        [CommandOption("--class-conditional")]
        [Description("Condition on class labels (adds num_class_embeds = classes + 1, the last one the null class for guidance).")]
        public bool ClassConditional { get; init; }

        [CommandOption("--steps <N>")]
        [Description("Total optimizer steps (default 2000; with --resume, default: the run's own target).")]
        public int? Steps { get; init; }

        [CommandOption("--batch <B>")]
        [DefaultValue(64)]
        public int Batch { get; init; } = 64;

        [CommandOption("--micro-batch <M>")]
        [Description("Accumulate gradients over chunks of M images (same update, less memory).")]
        public int? MicroBatch { get; init; }

        [CommandOption("--lr <RATE>")]
        [DefaultValue(2e-4)]
        public double LearningRate { get; init; } = 2e-4;

        [CommandOption("--lr-schedule <constant|cosine>")]
        [DefaultValue("cosine")]
        public string LearningRateSchedule { get; init; } = "cosine";

        [CommandOption("--warmup <K>")]
        [DefaultValue(100)]
        public int Warmup { get; init; } = 100;

        [CommandOption("--grad-clip <NORM>")]
        [Description("Clip the global gradient norm (0 = off).")]
        [DefaultValue(1.0)]
        public double GradClip { get; init; } = 1.0;

        [CommandOption("--ema-decay <D>")]
        [DefaultValue(0.999)]
        public double EmaDecay { get; init; } = 0.999;

        [CommandOption("--weight-decay <W>")]
        [DefaultValue(1e-6)]
        public double WeightDecay { get; init; } = 1e-6;

        [CommandOption("--prediction-type <TYPE>")]
        [Description("epsilon, v_prediction or sample.")]
        [DefaultValue("epsilon")]
        public string PredictionType { get; init; } = "epsilon";

        [CommandOption("--snr-gamma <G>")]
        [Description("Min-SNR-gamma loss weighting (5 is the paper's value); off by default.")]
        public double? SnrGamma { get; init; }

        [CommandOption("--cond-drop <P>")]
        [Description("Label drop probability for classifier-free guidance (class-conditional only).")]
        [DefaultValue(0.1)]
        public double CondDrop { get; init; } = 0.1;

        [CommandOption("--beta-schedule <NAME>")]
        [DefaultValue("linear")]
        public string BetaSchedule { get; init; } = "linear";

        [CommandOption("--train-timesteps <T>")]
        [DefaultValue(1000)]
        public int TrainTimesteps { get; init; } = 1000;

        [CommandOption("--out <FOLDER>")]
        [Description("The run folder (required).")]
        public string? Out { get; init; }

        [CommandOption("--seed <S>")]
        [DefaultValue(0L)]
        public long Seed { get; init; }

        [CommandOption("--checkpoint-every <K>")]
        [DefaultValue(500)]
        public int CheckpointEvery { get; init; } = 500;

        [CommandOption("--keep <K>")]
        [Description("Checkpoints to keep.")]
        [DefaultValue(3)]
        public int Keep { get; init; } = 3;

        [CommandOption("--sample-every <K>")]
        [Description("Write a sample grid every K steps (0 = only at the end).")]
        [DefaultValue(0)]
        public int SampleEvery { get; init; }

        [CommandOption("--sample-count <N>")]
        [Description("Images in each sample grid; class-conditional models: rounded up to a multiple of the classes, one column per class.")]
        [DefaultValue(64)]
        public int SampleCount { get; init; } = 64;

        [CommandOption("--sample-steps <N>")]
        [Description("DDIM steps for the sample grids.")]
        [DefaultValue(50)]
        public int SampleSteps { get; init; } = 50;

        [CommandOption("--eval-every <K>")]
        [Description("Every K steps, score --eval-count DDIM samples of the EMA model with FID-MNIST (28x28 grayscale models; class-conditional: every class equally often); written to eval.csv.")]
        [DefaultValue(0)]
        public int EvalEvery { get; init; }

        [CommandOption("--eval-count <N>")]
        [DefaultValue(500)]
        public int EvalCount { get; init; } = 500;

        [CommandOption("--max-bad-steps <N>")]
        [DefaultValue(10)]
        public int MaxBadSteps { get; init; } = 10;

        [CommandOption("--resume")]
        [Description("Continue the run in --out from its newest checkpoint (--steps may raise the target).")]
        public bool Resume { get; init; }

        [CommandOption("--overwrite")]
        [Description("Replace the run in --out.")]
        public bool Overwrite { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } bad) return bad;
            if (string.IsNullOrWhiteSpace(Out)) return ValidationResult.Error("--out is required: the run folder to write");
            if (Resume && Overwrite) return ValidationResult.Error("--resume and --overwrite exclude each other");
            if (EvalEvery < 0) return ValidationResult.Error($"--eval-every must be 0 (off) or more (got {EvalEvery})");
            if (EvalEvery > 0 && EvalCount < Evaluation.DigitEvaluation.MinSamples)
                return ValidationResult.Error($"--eval-count must be at least {Evaluation.DigitEvaluation.MinSamples}: a Fréchet distance from fewer samples is meaningless");
            return ValidationResult.Success();
        }

        public TrainingOptions ToOptions() => new()
        {
            Steps = Steps ?? 2000,
            BatchSize = Batch,
            MicroBatchSize = MicroBatch,
            LearningRate = LearningRate,
            WarmupSteps = Warmup,
            Decay = LearningRateSchedule switch
            {
                "cosine" => LearningRateDecay.Cosine,
                "constant" => LearningRateDecay.Constant,
                _ => throw new InvalidInputException($"--lr-schedule: unknown schedule '{LearningRateSchedule}' (expected constant or cosine)"),
            },
            WeightDecay = WeightDecay,
            GradClip = GradClip,
            EmaDecay = EmaDecay,
            Seed = Seed,
            PredictionType = PredictionTypes.Parse(PredictionType, "--prediction-type"),
            SnrGamma = SnrGamma,
            CondDrop = CondDrop,
            CheckpointEvery = CheckpointEvery,
            KeepCheckpoints = Keep,
            SampleEvery = SampleEvery,
            SampleCount = SampleCount,
            SampleSteps = SampleSteps,
            MaxBadSteps = MaxBadSteps,
        };
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        var options = settings.ToOptions();
        options.Validate();
        var device = TorchRuntime.Initialize(settings.Threads, settings.Device);
        torch.random.manual_seed(settings.Seed);
        var trainer = settings.Resume ? ResumeRun(settings, device) : StartRun(settings, options, device);
        using (trainer)
        {
            var run = trainer.Run;
            trainer.SampleHook = (ema, step) => WriteSampleGrid(run, trainer, ema, step);
            using var evaluation = settings.EvalEvery > 0 ? Evaluation.DigitEvaluation.Open() : null;
            if (evaluation is not null)
                trainer.StepHook = (ema, step) =>
                {
                    if (step % settings.EvalEvery == 0 || step == trainer.Options.Steps) Evaluate(run, trainer, ema, step, settings.EvalCount, evaluation);
                };
            var o = trainer.Options;
            var stats = ModelStats.Of(trainer.Model);
            AnsiConsole.MarkupLineInterpolated(
                $"training [bold]{run.Root}[/]: {stats.ParameterCount:N0} parameters, {stats.GFlopsPerSample:F2} GFLOPs/image, batch {o.BatchSize}, steps {trainer.Step} -> {o.Steps}, {torch.get_num_threads()} threads");
            var outcome = TrainingProgressView.Run(trainer, cancellationToken);
            WriteLossPlot(run);
            string how = outcome.Reason switch
            {
                StopReason.Finished => "finished",
                StopReason.Cancelled => "interrupted; checkpoint saved, continue with --resume",
                StopReason.TooManyBadSteps => $"stopped after {o.MaxBadSteps} steps in a row with non-finite loss or gradients (--max-bad-steps); the last good checkpoint is intact",
                _ => "stopped: the weights became non-finite (diverged; try a lower --lr); no checkpoint was written from them, the last good one is intact",
            };
            AnsiConsole.MarkupLineInterpolated(
                $"{how}: step {outcome.Step}/{o.Steps} in {outcome.Elapsed:hh\\:mm\\:ss}, {outcome.SkippedSteps} skipped steps; run folder {run.Root}");
            if (outcome.Reason is StopReason.TooManyBadSteps or StopReason.NonFiniteWeights)
                Console.Error.WriteLine($"diffuse: error: training {how}");
            return outcome.Reason switch
            {
                StopReason.Finished => DiffuseApp.Ok,
                StopReason.Cancelled => DiffuseApp.Interrupted,
                _ => DiffuseApp.InternalError,
            };
        }
    }

    private static Trainer StartRun(Settings s, TrainingOptions options, torch.Device device)
    {
        var config = ModelSpecs.Config(s.Model);
        var spec = new DataSpec(s.Data, s.ImageSize, s.Grayscale, s.Strict, s.Labels, s.Flip);
        var data = spec.Open(config.SampleSize ?? 32);
        if (data is ImageFolderDataset folder && folder.SkippedFiles.Count > 0)
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipped {folder.SkippedFiles.Count} unreadable image(s)[/] in {s.Data} (use --strict to stop instead)");
        if (s.ClassConditional)
        {
            if (!data.HasLabels) throw new InvalidInputException($"--class-conditional: --data {s.Data} has no class labels");
            config = config with { NumClassEmbeds = data.NumClasses + 1 };
        }
        if (config.SampleSize is { } size && (data.Height != size || data.Width != size))
            throw new InvalidInputException($"--data images are {data.Width}x{data.Height} but the model's sample_size is {size}");
        var schedule = new NoiseScheduleConfig(s.TrainTimesteps, 0.0001, 0.02, BetaScheduleNames.Parse(s.BetaSchedule, "--beta-schedule"));
        schedule.Validate();
        if (!s.Overwrite && RunFolder.IsRun(s.Out!))
            throw new InvalidInputException($"--out: {s.Out} already holds a training run; pass --resume to continue it or --overwrite to replace it");
        var run = RunFolder.Create(s.Out!, s.Overwrite);
        var model = new UNet2DModel(config, device);
        return Trainer.Start(run, model, data, spec, schedule, options);
    }

    private static Trainer ResumeRun(Settings s, torch.Device device)
    {
        var run = RunFolder.Open(s.Out!);
        if (s.Steps is < 1) throw new InvalidInputException($"--steps must be at least 1 (got {s.Steps})");
        return Trainer.Resume(run, s.Steps, new TrainingSeams(ProcessRole.Single, Device: device));
    }

    private static void WriteSampleGrid(RunFolder run, Trainer trainer, IDenoiser ema, int step)
    {
        var o = trainer.Options;
        using var pipeline = DiffusionPipeline.FromModel(ema, SchedulerFactory.Create("ddim", trainer.Schedule, o.PredictionType, TimestepSpacing.Trailing));
        bool final = step >= o.Steps;
        using var recorder = final ? new TrajectoryRecorder(frames: 10, samples: 4) : null;
        var (count, labels, columns) = GridLayout(pipeline.NumClasses, o.SampleCount);
        using var images = pipeline.Generate(count, o.SampleSteps, o.Seed + 1, labels,
            batchSize: count, onStep: recorder is null ? null : (_, s) => recorder.Record(s));
        Directory.CreateDirectory(run.SamplesDir);
        string grid = Path.Combine(run.SamplesDir, $"step-{step:D7}.png");
        ImageGrid.SavePng(images, grid, columns);
        if (recorder is null) return;
        string trajectory = Path.Combine(run.SamplesDir, "reverse-process.png");
        recorder.Save(trajectory, pipeline.Scheduler.Name);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{grid}[/] ({count} samples, DDIM {o.SampleSteps} steps, EMA weights) and [green]{trajectory}[/]");
    }

    /// <summary>Scores <paramref name="count"/> DDIM samples of the EMA model (a class-conditional one: every class equally often) and appends the scores to eval.csv.</summary>
    private static void Evaluate(RunFolder run, Trainer trainer, IDenoiser ema, int step, int count, Evaluation.DigitEvaluation evaluation)
    {
        var o = trainer.Options;
        if (ema.Config.SampleShape is not [1, 28, 28])
            throw new InvalidInputException("--eval-every: FID-MNIST scores 28x28 grayscale digits; this model makes other images");
        using var pipeline = DiffusionPipeline.FromModel(ema, SchedulerFactory.Create("ddim", trainer.Schedule, o.PredictionType, TimestepSpacing.Trailing));
        using var images = pipeline.Generate(count, o.SampleSteps, o.Seed + 2, BalancedLabels(pipeline.NumClasses, count), batchSize: 100);
        var r = evaluation.Evaluate(images);
        string path = Path.Combine(run.Root, "eval.csv");
        if (!File.Exists(path)) File.WriteAllText(path, "step,samples,fid_mnist,mean_confidence,class_entropy\n");
        File.AppendAllText(path, FormattableString.Invariant($"{step},{r.SampleCount},{r.FidMnist:R},{r.MeanConfidence:R},{r.ClassEntropy:R}\n"));
        Console.WriteLine(FormattableString.Invariant($"eval at step {step}: FID-MNIST {r.FidMnist:F2} ({r.SampleCount} DDIM-{o.SampleSteps} samples), confidence {r.MeanConfidence:F3}, class entropy {r.ClassEntropy:F3}"));
    }

    /// <summary>
    /// The sample grids of a class-conditional model show every class equally: the count rounded up to a multiple of the
    /// class count, one column per class, so each row reads 0, 1, ..., K-1.
    /// </summary>
    private static (int Count, long[]? Labels, int? Columns) GridLayout(int classes, int count)
    {
        if (classes == 0) return (count, null, null);
        int rounded = (count + classes - 1) / classes * classes;
        return (rounded, BalancedLabels(classes, rounded), classes);
    }

    /// <summary>Labels 0, 1, ..., K-1, 0, 1, ... for a class-conditional model (every class equally often); null when unconditional.</summary>
    private static long[]? BalancedLabels(int classes, int count) =>
        classes == 0 ? null : Enumerable.Range(0, count).Select(i => (long)(i % classes)).ToArray();

    private static void WriteLossPlot(RunFolder run)
    {
        var rows = LossLog.Read(run.LossCsvPath).Where(r => double.IsFinite(r.Loss)).ToList();
        if (rows.Count < 2) return;
        Plots.SaveLossCurve(run.LossPlotPath, rows.Select(r => (double)r.Step).ToList(), rows.Select(r => r.Loss).ToList(), 0.98);
    }
}
