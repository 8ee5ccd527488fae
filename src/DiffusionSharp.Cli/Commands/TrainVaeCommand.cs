using System.ComponentModel;
using System.Globalization;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Runtime;
using DiffusionSharp.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse train-vae</c>: train an AutoencoderKL on images; the run folder's <c>vae/</c> is a diffusers folder.</summary>
public sealed class TrainVaeCommand : Command<TrainVaeCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("--data <SOURCE>")]
        [Description("emoji (the bundled 64x64 colour emoji), mnist, a folder of images (or a Hugging Face imagefolder with metadata.jsonl), or an IDX images file.")]
        [DefaultValue("emoji")]
        public string Data { get; init; } = "emoji";

        [CommandOption("--resolution <N>")]
        [Description("Resize and centre-crop folder images to N x N (a multiple of the autoencoder's downsampling; default: its sample_size).")]
        public int? Resolution { get; init; }

        [CommandOption("--background <COLOR>")]
        [Description("The colour transparent (RGBA) images are composited onto: white (default), black, gray or #RRGGBB.")]
        public string? Background { get; init; }

        [CommandOption("--grayscale")]
        [Description("Read folder images as one channel (the autoencoder's in_channels must then be 1).")]
        public bool Grayscale { get; init; }

        [CommandOption("--strict")]
        [Description("Stop at the first unreadable image instead of skipping it.")]
        public bool Strict { get; init; }

        [CommandOption("--model <PRESET|CONFIG>")]
        [Description("Architecture: kl-rgb64-f4 (64x64 RGB to 16x16x4 latents) or an AutoencoderKL config.json.")]
        [DefaultValue("kl-rgb64-f4")]
        public string Model { get; init; } = "kl-rgb64-f4";

        [CommandOption("--steps <N>")]
        [Description("Total optimizer steps (default 2000; with --resume, default: the run's own target).")]
        public int? Steps { get; init; }

        [CommandOption("--batch <B>")]
        [DefaultValue(16)]
        public int Batch { get; init; } = 16;

        [CommandOption("--lr <RATE>")]
        [Description("Constant learning rate of AdamW (betas 0.5, 0.9 as LDM's autoencoders).")]
        [DefaultValue(2e-4)]
        public double LearningRate { get; init; } = 2e-4;

        [CommandOption("--kl-weight <W>")]
        [Description("Weight of KL(q(z|x) || N(0, I)) against the per-image reconstruction error (LDM's kl_weight: 1e-6).")]
        [DefaultValue(1e-6)]
        public double KlWeight { get; init; } = 1e-6;

        [CommandOption("--loss <l1|l2>")]
        [Description("Reconstruction distance: l1 (as LDM) or l2.")]
        [DefaultValue("l1")]
        public string Loss { get; init; } = "l1";

        [CommandOption("--ema-decay <D>")]
        [DefaultValue(0.999)]
        public double EmaDecay { get; init; } = 0.999;

        [CommandOption("--held-out <N>")]
        [Description("Images held out (never trained on) for the PSNR; default: 5% of the data, 1 to 256.")]
        public int? HeldOut { get; init; }

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
            return ValidationResult.Success();
        }

        public VaeTrainingOptions ToOptions() => new()
        {
            Steps = Steps ?? 2000,
            BatchSize = Batch,
            LearningRate = LearningRate,
            KlWeight = KlWeight,
            Loss = Loss.ToLowerInvariant() switch
            {
                "l1" => ReconstructionLoss.L1,
                "l2" => ReconstructionLoss.L2,
                _ => throw new InvalidInputException($"--loss: unknown reconstruction loss '{Loss}' (expected l1 or l2)"),
            },
            EmaDecay = EmaDecay,
            Seed = Seed,
            CheckpointEvery = CheckpointEvery,
            KeepCheckpoints = Keep,
            HeldOut = HeldOut,
        };
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        var options = settings.ToOptions();
        options.Validate();
        var device = TorchRuntime.Initialize(settings.Threads, settings.Device);
        // The initial weights come from libtorch's global generator: seeded, so the same seed gives the same run.
        torch.random.manual_seed(settings.Seed);
        using var trainer = settings.Resume ? ResumeRun(settings, device) : StartRun(settings, options, device);
        var o = trainer.Options;
        var c = trainer.Model.Config;
        long parameters = trainer.Model.parameters().Sum(p => p.numel());
        AnsiConsole.MarkupLineInterpolated(
            $"training VAE [bold]{trainer.Run.Root}[/]: {parameters:N0} parameters, {c.SampleSize}x{c.SampleSize}x{c.InChannels} -> {c.SampleSize / c.DownsamplingFactor}x{c.SampleSize / c.DownsamplingFactor}x{c.LatentChannels}, {trainer.TrainCount} training + {trainer.HeldOutCount} held-out images, batch {o.BatchSize}, {o.Loss.ToString().ToLowerInvariant()} + {o.KlWeight:G3}·KL, steps {trainer.Step} -> {o.Steps}, {torch.get_num_threads()} threads");
        var outcome = TrainingProgressView.Run(o.Steps, trainer.Step, o.BatchSize, p => trainer.Train(p, cancellationToken));
        string how = outcome.Reason switch
        {
            StopReason.Finished => "finished",
            StopReason.Cancelled => "interrupted; checkpoint saved, continue with --resume",
            StopReason.TooManyBadSteps => $"stopped after {o.MaxBadSteps} steps in a row with non-finite loss or gradients; the last good checkpoint is intact",
            _ => "stopped: the weights became non-finite (diverged; try a lower --lr); no checkpoint was written from them, the last good one is intact",
        };
        AnsiConsole.MarkupLineInterpolated($"{how}: step {outcome.Step}/{o.Steps} in {outcome.Elapsed:hh\\:mm\\:ss}, {outcome.SkippedSteps} skipped steps");
        if (outcome.Reason is StopReason.TooManyBadSteps or StopReason.NonFiniteWeights)
        {
            Console.Error.WriteLine($"diffuse: error: training {how}");
            return DiffuseApp.InternalError;
        }
        if (outcome.Reason == StopReason.Cancelled) return DiffuseApp.Interrupted;
        var report = trainer.Finish();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"held-out PSNR {report.PsnrDb:F2} dB on {report.HeldOutImages} images (EMA weights); latent std {report.LatentStd:G4} -> scaling_factor {report.ScalingFactor:G6}"));
        AnsiConsole.MarkupLineInterpolated(
            $"wrote [green]{trainer.VaeDir}[/], [green]{Path.Combine(trainer.Run.Root, VaeTrainer.ImageFileName)}[/] (originals above reconstructions) and [green]{Path.Combine(trainer.Run.Root, VaeTrainer.ReportFileName)}[/]");
        return DiffuseApp.Ok;
    }

    private static VaeTrainer StartRun(Settings s, VaeTrainingOptions options, torch.Device device)
    {
        var config = ModelConfig(s.Model);
        if (s.Resolution is int resolution)
        {
            int f = config.DownsamplingFactor;
            if (resolution < f || resolution % f != 0)
                throw new InvalidInputException(
                    $"--resolution {resolution}: expected a positive multiple of {f}, the autoencoder's downsampling factor ({config.BlockOutChannels.Count} levels)");
            config = config with { SampleSize = resolution };
        }
        var spec = new DataSpec(s.Data, s.Resolution ?? config.SampleSize, s.Grayscale, s.Strict, Background: s.Background);
        var data = spec.Open(config.SampleSize);
        if (data is ImageFolderDataset folder && folder.SkippedFiles.Count > 0)
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipped {folder.SkippedFiles.Count} unreadable image(s)[/] in {s.Data} (use --strict to stop instead)");
        if (config.InChannels != data.Channels)
            throw new InvalidInputException(
                $"--model has in_channels {config.InChannels} but the --data images have {data.Channels} channel(s){(data.Channels == 1 ? " (an RGB autoencoder needs colour images: drop --grayscale)" : "")}");
        if (data.Height != config.SampleSize || data.Width != config.SampleSize)
            throw new InvalidInputException($"--data images are {data.Width}x{data.Height} but the autoencoder's sample_size is {config.SampleSize} (use --resolution)");
        if (!s.Overwrite && RunFolder.IsRun(s.Out!))
            throw new InvalidInputException($"--out: {s.Out} already holds a training run; pass --resume to continue it or --overwrite to replace it");
        var run = RunFolder.Create(s.Out!, s.Overwrite);
        var model = new AutoencoderKL(config, device);
        return VaeTrainer.Start(run, model, data, spec, options);
    }

    private static VaeTrainer ResumeRun(Settings s, torch.Device device)
    {
        if (s.Steps is < 1) throw new InvalidInputException($"--steps must be at least 1 (got {s.Steps})");
        return VaeTrainer.Resume(RunFolder.Open(s.Out!), s.Steps, device);
    }

    /// <summary>A preset name, or an AutoencoderKL config.json.</summary>
    private static AutoencoderKLConfig ModelConfig(string model)
    {
        if (AutoencoderPresets.Names.Contains(model, StringComparer.OrdinalIgnoreCase)) return AutoencoderPresets.Get(model);
        if (File.Exists(model)) return AutoencoderKLConfig.Load(model);
        throw new InvalidInputException($"--model '{model}': neither a preset ({string.Join(", ", AutoencoderPresets.Names)}) nor an AutoencoderKL config.json");
    }
}
