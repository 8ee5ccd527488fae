using System.ComponentModel;
using DiffusionSharp.Audio;
using DiffusionSharp.Data;
using DiffusionSharp.Distributed;
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
        [Description("mnist (the bundled 10,000 digits), emoji (the bundled 3,655 64x64 colour emoji), a folder of images (subfolders = classes, or a Hugging Face imagefolder with metadata.jsonl), an IDX images file, or (with an audio model such as audio-small) spoken-digits (the bundled 2,000 8 kHz clips) or a folder of WAV files with metadata.jsonl, or (with a 1-D model such as series-small) a .csv file of time series, all of one length.")]
        [DefaultValue("mnist")]
        public string Data { get; init; } = "mnist";

        [CommandOption("--labels <IDX>")]
        [Description("IDX labels file for an IDX --data file.")]
        public string? Labels { get; init; }

        [CommandOption("--resolution|--image-size <N>")]
        [Description("Resize and centre-crop folder images to N x N and train the model at that size (a multiple of its downsampling; default: the model's sample_size).")]
        public int? ImageSize { get; init; }

        [CommandOption("--length <SAMPLES>")]
        [Description("Audio models: the clip length in samples clips are cropped or padded to (a multiple of the model's downsampling; default: its sample_size, 8192 for audio-small).")]
        public int? Length { get; init; }

        [CommandOption("--data-scale <S|auto>")]
        [Description("Audio models: train on S times the waveform and divide generated clips by S (the config's data_scale; default 1). Speech at full scale has a standard deviation near 0.1; S = 5 brings it near images' 0.5, the level noise schedules are made for; auto = 0.5 / the training clips' standard deviation.")]
        public string? DataScale { get; init; }

        [CommandOption("--series-layout <rows|columns>")]
        [Description("A CSV --data file of time series (1-D models such as series-small): one series per row (default) or per column.")]
        public string? SeriesLayout { get; init; }

        [CommandOption("--csv-header")]
        [Description("A CSV --data file: its first line names the series (or time steps) and is not data.")]
        public bool CsvHeader { get; init; }

        [CommandOption("--label-column <COLUMN>")]
        [Description("The metadata.jsonl column whose values are the classes (emoji: group or subgroup); class indices follow the sorted names.")]
        public string? LabelColumn { get; init; }

        [CommandOption("--background <COLOR>")]
        [Description("The colour transparent (RGBA) images are composited onto: white (default), black, gray or #RRGGBB.")]
        public string? Background { get; init; }

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
        [Description("Architecture (default mnist-tiny; with --prompt-column emoji-text-small): mnist-nano, mnist-tiny, mnist-small, emoji32-small (3x32x32), emoji-latent-small (4x16x16 latents, with --vae), cifar10-ddpm, audio-small (1x8192 clips at 8 kHz, for --data spoken-digits or a WAV folder), audio-patch4 (the same clips as 2,048 frames of 4 samples: about twice as fast per step), series-small (short time series from a CSV file, any length that is a multiple of 16), or a UNet2DModel or DiffusionSharpUNet1D config.json; with --prompt-column a UNet2DConditionModel: emoji-text-small (4x16x16 latents, 128-wide text), text-tiny, or its config.json.")]
        public string? ModelOption { get; init; }

        /// <summary>The <c>--model</c> given, or the default architecture of the run's kind.</summary>
        public string Model => ModelOption ?? (PromptColumn is null ? "mnist-tiny" : "emoji-text-small");

        [CommandOption("--prompt-column <COLUMN>")]
        [Description("Text to image (with --vae): train a UNet2DConditionModel and a CLIP text encoder from scratch on the prompts in this metadata.jsonl column (emoji: text), tokenized once with the bundled CLIP tokenizer; prompts are dropped to \"\" with --cond-drop for guidance. The run folder is a diffusers StableDiffusionPipeline folder for diffuse sample --prompt.")]
        public string? PromptColumn { get; init; }

        [CommandOption("--text-encoder <PRESET|CONFIG>")]
        [Description("With --prompt-column: the CLIP text encoder trained with the U-Net: clip-text-small (default: width 128, 4 layers, 4 heads) or a CLIPTextModel config.json; its hidden_size must equal the U-Net's cross_attention_dim.")]
        public string? TextEncoder { get; init; }

        [CommandOption("--vae <FOLDER>")]
        [Description("Latent diffusion: an AutoencoderKL or AutoencoderTiny folder (or a train-vae run / pipeline folder with vae/). The data is encoded once (cached in the run's latents/), the U-Net (e.g. emoji-latent-small) trains on the scaled latents, and the run folder gets vae/.")]
        public string? Vae { get; init; }

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

        [CommandOption("--checkpoint-activations")]
        [Description("Recompute each U-Net block's activations in backward instead of keeping them: less memory, about one more forward per step, the same update. UNet2DModel only; not stored in the run (give it again with --resume).")]
        public bool CheckpointActivations { get; init; }

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
        [Description("ddpm: epsilon (default), v_prediction or sample; edm: epsilon (default) or v_prediction; flow: flow_prediction (the velocity, its only one).")]
        public string? PredictionType { get; init; }

        [CommandOption("--snr-gamma <G>")]
        [Description("ddpm: min-SNR-gamma loss weighting (5 is the paper's value); off by default.")]
        public double? SnrGamma { get; init; }

        [CommandOption("--formulation <ddpm|flow|edm>")]
        [Description("The training objective: ddpm (discrete diffusion), flow (rectified flow, as SD3/Flux) or edm (Karras et al. 2022). See docs/formulations.md.")]
        [DefaultValue("ddpm")]
        public string Formulation { get; init; } = "ddpm";

        [CommandOption("--p2-gamma <G>")]
        [Description("ddpm: P2 loss weighting (k + SNR)^-G (Choi et al. 2022; 1 in the paper); off by default.")]
        public double? P2Gamma { get; init; }

        [CommandOption("--p2-k <K>")]
        [Description("ddpm: P2's k (default 1).")]
        public double? P2K { get; init; }

        [CommandOption("--sigma-density <NAME>")]
        [Description("flow: how sigma is drawn: logit_normal (default), mode or uniform.")]
        public string? SigmaDensity { get; init; }

        [CommandOption("--logit-mean <M>")]
        [Description("flow, logit_normal: the mean (default 0).")]
        public double? LogitMean { get; init; }

        [CommandOption("--logit-std <S>")]
        [Description("flow, logit_normal: the standard deviation (default 1).")]
        public double? LogitStd { get; init; }

        [CommandOption("--mode-scale <S>")]
        [Description("flow, mode: the scale (default 1.29).")]
        public double? ModeScale { get; init; }

        [CommandOption("--shift <S>")]
        [Description("flow: the resolution shift of the sigmas, s*sigma/(1+(s-1)*sigma) (default 1 = none; SD3 uses 3).")]
        public double? Shift { get; init; }

        [CommandOption("--flow-weighting <NAME>")]
        [Description("flow: the loss weighting: none (default), sigma_sqrt or cosmap.")]
        public string? FlowWeighting { get; init; }

        [CommandOption("--precondition-outputs")]
        [Description("flow: regress x_0 through x - sigma*v instead of the velocity (SD3's option).")]
        public bool PreconditionOutputs { get; init; }

        [CommandOption("--p-mean <M>")]
        [Description("edm: the mean of ln(sigma) during training (default -1.2).")]
        public double? PMean { get; init; }

        [CommandOption("--p-std <S>")]
        [Description("edm: the standard deviation of ln(sigma) (default 1.2).")]
        public double? PStd { get; init; }

        [CommandOption("--sigma-data <S>")]
        [Description("edm: the data's standard deviation the preconditioning assumes (default 0.5).")]
        public double? SigmaData { get; init; }

        [CommandOption("--cond-drop <P>")]
        [Description("Condition drop probability for classifier-free guidance (class labels to the null class; with --prompt-column prompts to \"\").")]
        [DefaultValue(0.1)]
        public double CondDrop { get; init; } = 0.1;

        [CommandOption("--beta-schedule <NAME>")]
        [Description("ddpm: linear (default), scaled_linear, squaredcos_cap_v2 or sigmoid.")]
        public string? BetaSchedule { get; init; }

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
        [Description("Sampler steps for the sample grids (DDIM for ddpm, the formulation's own sampler otherwise).")]
        [DefaultValue(50)]
        public int SampleSteps { get; init; } = 50;

        [CommandOption("--eval-every <K>")]
        [Description("Every K steps, score --eval-count samples of the EMA model (sampled as the grids; class-conditional: every class equally often) and append the scores to eval.csv (not stored in the run: give it again with --resume): FID-MNIST for 28x28 grayscale models; for audio models (8,192-sample clips at 8 kHz) the spoken-digit classifier's Fréchet distance and accuracy against the requested digits.")]
        [DefaultValue(0)]
        public int EvalEvery { get; init; }

        [CommandOption("--eval-count <N>")]
        [DefaultValue(500)]
        public int EvalCount { get; init; } = 500;

        [CommandOption("--eval-guidance <G>")]
        [Description("Classifier-free guidance of the --eval-every samples of a class-conditional model (1 = none).")]
        [DefaultValue(1.0)]
        public double EvalGuidance { get; init; } = 1.0;

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
            if (PromptColumn is not null && !Resume)
            {
                if (Vae is null) return ValidationResult.Error("--prompt-column needs --vae: text-conditioned training runs on VAE latents (train one with diffuse train-vae)");
                if (ClassConditional) return ValidationResult.Error("--prompt-column and --class-conditional exclude each other: the model is conditioned on prompts, not class labels");
                if (LabelColumn is not null) return ValidationResult.Error("--label-column cannot be used with --prompt-column: the model is conditioned on prompts, not class labels");
            }
            if (TextEncoder is not null && PromptColumn is null) return ValidationResult.Error("--text-encoder needs --prompt-column (text-conditioned training)");
            if (EvalEvery < 0) return ValidationResult.Error($"--eval-every must be 0 (off) or more (got {EvalEvery})");
            if (!(EvalGuidance >= 1) || double.IsInfinity(EvalGuidance)) return ValidationResult.Error($"--eval-guidance must be a finite number of at least 1 (got {EvalGuidance.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
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
            PredictionType = PredictionType is null ? Formulations().DefaultPredictionType : PredictionTypes.Parse(PredictionType, "--prediction-type"),
            SnrGamma = SnrGamma,
            Formulation = Formulations(),
            CondDrop = CondDrop,
            CheckpointEvery = CheckpointEvery,
            KeepCheckpoints = Keep,
            SampleEvery = SampleEvery,
            SampleCount = SampleCount,
            SampleSteps = SampleSteps,
            MaxBadSteps = MaxBadSteps,
        };

        /// <summary>The formulation and the knobs given for it (the library checks that each belongs to it).</summary>
        private FormulationOptions Formulations() => new()
        {
            Kind = FormulationKinds.Parse(Formulation, "FormulationOptions.Kind"),
            P2Gamma = P2Gamma,
            P2K = P2K,
            Density = SigmaDensity is null ? null : SigmaDensities.Parse(SigmaDensity, "FormulationOptions.Density"),
            LogitMean = LogitMean,
            LogitStd = LogitStd,
            ModeScale = ModeScale,
            Shift = Shift,
            FlowWeighting = FlowWeighting is null ? null : FlowWeightings.Parse(FlowWeighting, "FormulationOptions.FlowWeighting"),
            PreconditionOutputs = PreconditionOutputs ? true : null,
            PMean = PMean,
            PStd = PStd,
            SigmaData = SigmaData,
        };
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        var options = settings.ToOptions();
        options.Validate();
        if (DistributedJob.Launch is { } launch) new ProcessRole(launch.Rank, launch.Size).CheckBatch(options.BatchSize);
        var group = DistributedJob.Join();
        var role = group is null ? ProcessRole.Single : new ProcessRole(group.Rank, group.Count);
        using var reducer = group is null ? null : new DataParallelReducer(group, cancellationToken);
        var device = TorchRuntime.Initialize(DistributedJob.Threads(settings.Threads), settings.Device);
        torch.random.manual_seed(settings.Seed);
        var seams = new TrainingSeams(role, reducer, device);
        var trainer = settings.Resume ? ResumeRun(settings, seams) : StartRun(settings, options, device, seams);
        if (reducer is not null) cancellationToken = reducer.Stop;
        using (trainer)
        {
            if (settings.CheckpointActivations) CheckpointActivations(trainer.Model);
            var run = trainer.Run;
            using var vae = trainer.IsLatent && role.WritesFiles ? Models.Autoencoders.AutoencoderLoader.FromPretrained(run.VaeDir, device) : null;
            trainer.SampleHook = (ema, step) => WriteSampleGrid(run, trainer, ema, vae, step);
            bool evaluates = settings.EvalEvery > 0 && role.WritesFiles;
            using var audioEvaluation = evaluates && trainer.Model.Config is AudioUNet1DConfig audio ? OpenAudioEvaluation(run, audio) : null;
            using var evaluation = evaluates && audioEvaluation is null ? Evaluation.DigitEvaluation.Open() : null;
            if (evaluates)
                trainer.StepHook = (ema, step) =>
                {
                    if (step % settings.EvalEvery != 0 && step != trainer.Options.Steps) return;
                    if (audioEvaluation is not null) EvaluateAudio(run, trainer, ema, step, settings.EvalCount, settings.EvalGuidance, audioEvaluation);
                    else Evaluate(run, trainer, ema, step, settings.EvalCount, settings.EvalGuidance, evaluation!);
                };
            var o = trainer.Options;
            var stats = ModelStats.Of(trainer.Model);
            AnsiConsole.MarkupLineInterpolated(
                $"training [bold]{run.Root}[/]{(trainer.IsLatent ? " (latent)" : "")}: {stats.ParameterCount:N0} parameters, {stats.GFlopsPerSample:F2} GFLOPs/{(trainer.Model.Config is AudioUNet1DConfig ? "clip" : "image")}, batch {o.BatchSize}, steps {trainer.Step} -> {o.Steps}, {torch.get_num_threads()} threads{(role.Count > 1 ? $" per rank, {role.Count} ranks (MPI) of {o.BatchSize / role.Count} images each" : "")}");
            var outcome = TrainingProgressView.Run(trainer, cancellationToken);
            if (role.WritesFiles) WriteLossPlot(run);
            string how = outcome.Reason switch
            {
                StopReason.Finished => "finished",
                StopReason.Cancelled => "interrupted; checkpoint saved, continue with --resume",
                StopReason.TooManyBadSteps => $"stopped after {o.MaxBadSteps} steps in a row with non-finite loss or gradients (--max-bad-steps); the last good checkpoint is intact",
                _ => "stopped: the weights became non-finite (diverged; try a lower --lr); no checkpoint was written from them, the last good one is intact",
            };
            AnsiConsole.MarkupLineInterpolated(
                $"{how}: step {outcome.Step}/{o.Steps} in {outcome.Elapsed:hh\\:mm\\:ss}, {outcome.SkippedSteps} skipped steps; run folder {run.Root}");
            if (outcome.Reason is StopReason.TooManyBadSteps or StopReason.NonFiniteWeights && role.WritesFiles)
                Console.Error.WriteLine($"diffuse: error: training {how}");
            return outcome.Reason switch
            {
                StopReason.Finished => DiffuseApp.Ok,
                StopReason.Cancelled => DiffuseApp.Interrupted,
                _ => DiffuseApp.InternalError,
            };
        }
    }

    /// <summary>Turns on activation recomputation (<c>--checkpoint-activations</c>) for the network being trained.</summary>
    private static void CheckpointActivations(IDenoiser model)
    {
        if (model is not UNet2DModel unet)
            throw new InvalidInputException($"--checkpoint-activations: only a UNet2DModel recomputes activations (this run's model is a {model.Config.ClassName})");
        unet.CheckpointActivations = true;
        NativeAllocator.UseOwnMappingsFrom(NativeAllocator.RecomputationThresholdBytes);
    }

    private static Trainer StartRun(Settings s, TrainingOptions options, torch.Device device, TrainingSeams seams)
    {
        if (s.Vae is not null) return StartLatentRun(s, options, device, seams);
        if (ModelSpecs.AudioConfig(s.Model) is { } audio)
        {
            if (s.CheckpointActivations)
                throw new InvalidInputException($"--checkpoint-activations: only a UNet2DModel recomputes activations (--model {s.Model} is a 1-D model)");
            return StartAudioRun(s, options, audio, device, seams);
        }
        if (DataSpec.IsCsvFile(s.Data))
            throw new InvalidInputException($"--data {s.Data} is a CSV file of time series; --model {s.Model} is an image model (train a 1-D model such as series-small)");
        if (s.SeriesLayout is not null || s.CsvHeader)
            throw new InvalidInputException($"{(s.SeriesLayout is not null ? "--series-layout" : "--csv-header")} applies to a .csv --data file of time series (got --data {s.Data})");
        if (s.Length is not null) throw new InvalidInputException($"--length applies to audio models only (--model {s.Model} is an image model; use --resolution)");
        if (s.DataScale is not null) throw new InvalidInputException($"--data-scale applies to audio models only (--model {s.Model} is an image model)");
        var config = ModelSpecs.Config(s.Model);
        if (s.ImageSize is int resolution) config = config with { SampleSize = CheckResolution(resolution, config) };
        var spec = new DataSpec(s.Data, s.ImageSize, s.Grayscale, s.Strict, s.Labels, s.Flip, s.LabelColumn, s.Background);
        var data = spec.Open(config.SampleSize ?? 32);
        if (data is ImageFolderDataset folder && folder.SkippedFiles.Count > 0)
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipped {folder.SkippedFiles.Count} unreadable image(s)[/] in {s.Data} (use --strict to stop instead)");
        if (s.ClassConditional)
        {
            if (!data.HasLabels)
                throw new InvalidInputException($"--class-conditional: --data {s.Data} has no class labels"
                    + (data is ImageFolderDataset { HasCaptions: true } ? $" (name a {ImageFolderMetadata.FileName} column with --label-column)" : ""));
            config = config with { NumClassEmbeds = data.NumClasses + 1 };
        }
        if (config.InChannels != data.Channels)
            throw new InvalidInputException(
                $"--model has in_channels {config.InChannels} but the --data images have {data.Channels} channel(s){(data.Channels == 3 ? " (use --grayscale, or an RGB preset such as emoji32-small)" : "")}");
        if (config.SampleSize is { } size && (data.Height != size || data.Width != size))
            throw new InvalidInputException($"--data images are {data.Width}x{data.Height} but the model's sample_size is {size}");
        if (s.BetaSchedule is not null && options.Formulation.Kind != FormulationKind.Ddpm)
            throw new InvalidInputException($"--beta-schedule applies to the ddpm formulation only (got --formulation {options.Formulation.Kind.ToName()}, which has no beta schedule)");
        var schedule = new NoiseScheduleConfig(s.TrainTimesteps, 0.0001, 0.02, BetaScheduleNames.Parse(s.BetaSchedule ?? "linear", "--beta-schedule"));
        schedule.Validate();
        // Only the writer looks at --out: the other ranks wait for its weights, so a bad folder stops the job there.
        if (seams.Role.WritesFiles && !s.Overwrite && RunFolder.IsRun(s.Out!))
            throw new InvalidInputException($"--out: {s.Out} already holds a training run; pass --resume to continue it or --overwrite to replace it");
        var run = seams.Role.WritesFiles ? RunFolder.Create(s.Out!, s.Overwrite) : RunFolder.At(s.Out!);
        var model = new UNet2DModel(config, device);
        return Trainer.Start(run, model, data, spec, schedule, options, seams);
    }

    /// <summary>What a latent run starts from: the VAE folder and model, the image side, the latent side, the data spec and the images.</summary>
    private sealed record LatentInputs(string VaeFolder, Models.Autoencoders.IAutoencoder Vae, int Resolution, int LatentSide, DataSpec Spec,
        IImageDataset Images) : IDisposable
    {
        public void Dispose() => Vae.Dispose();
    }

    /// <summary>
    /// The checks every latent run makes at the boundary (--vae is an autoencoder, latent channels = the U-Net's in_channels,
    /// the resolution a multiple of the VAE's factor and the latent side of the U-Net's downsampling, one process, no --flip),
    /// then the VAE and the images.
    /// </summary>
    private static LatentInputs OpenLatentInputs(Settings s, int inChannels, int? sampleSize, int levels, string latentPreset, torch.Device device, TrainingSeams seams)
    {
        string vaeSource = s.Vae!;
        if (seams.Role.Count > 1) throw new InvalidInputException("--vae: latent training runs in one process for now (not under mpiexec)");
        if (s.Flip) throw new InvalidInputException("--flip cannot be used with --vae: a flipped latent is not the latent of the flipped image");
        if (s.Length is not null || ModelSpecs.AudioConfig(s.Model) is not null)
            throw new InvalidInputException($"--vae encodes images; --model {s.Model} is an audio model");
        if (!Directory.Exists(vaeSource)) throw new InvalidInputException($"--vae: {vaeSource} does not exist");
        string? vaeFolder = Models.Autoencoders.AutoencoderLoader.IsAutoencoderFolder(vaeSource) ? vaeSource
            : Models.Autoencoders.AutoencoderLoader.IsAutoencoderFolder(Path.Combine(vaeSource, "vae")) ? Path.Combine(vaeSource, "vae")
            : null;
        if (vaeFolder is null)
            throw new InvalidInputException($"--vae: {vaeSource} is not an AutoencoderKL or AutoencoderTiny folder (a config.json with that _class_name), nor a folder with such a vae/");
        var vae = Models.Autoencoders.AutoencoderLoader.FromPretrained(vaeFolder, device);
        try
        {
            int f = vae.DownsamplingFactor;
            if (inChannels != vae.LatentChannels)
                throw new InvalidInputException(
                    $"--model has in_channels {inChannels} but the --vae latents have {vae.LatentChannels} channel(s) (latent_channels in {vaeFolder}/config.json); use a latent preset such as {latentPreset}");
            int resolution = s.ImageSize ?? (sampleSize is { } side ? side * f
                : throw new InvalidInputException("--resolution is required: the model config has no sample_size"));
            if (resolution < f || resolution % f != 0)
                throw new InvalidInputException($"--resolution {resolution}: expected a positive multiple of {f}, the --vae's downsampling factor");
            int latentSide = resolution / f;
            int factor = 1 << (levels - 1);
            if (latentSide % factor != 0)
                throw new InvalidInputException(
                    $"--resolution {resolution}: the latents are {latentSide}x{latentSide}, not a multiple of {factor} ({levels} U-Net levels); use a multiple of {f * factor}");
            var spec = new DataSpec(s.Data, resolution, s.Grayscale, s.Strict, s.Labels, false, s.LabelColumn, s.Background, PromptColumn: s.PromptColumn);
            var images = spec.Open(resolution);
            if (images is ImageFolderDataset folder && folder.SkippedFiles.Count > 0)
                AnsiConsole.MarkupLineInterpolated($"[yellow]skipped {folder.SkippedFiles.Count} unreadable image(s)[/] in {s.Data} (use --strict to stop instead)");
            if (images.Channels != vae.InChannels)
                throw new InvalidInputException($"--data images have {images.Channels} channel(s) but the --vae encodes {vae.InChannels}");
            if (images.Height != resolution || images.Width != resolution)
                throw new InvalidInputException($"--data images are {images.Width}x{images.Height} but --resolution is {resolution}");
            return new LatentInputs(vaeFolder, vae, resolution, latentSide, spec, images);
        }
        catch
        {
            vae.Dispose();
            throw;
        }
    }

    private static NoiseScheduleConfig LatentSchedule(Settings s, TrainingOptions options)
    {
        if (s.BetaSchedule is not null && options.Formulation.Kind != FormulationKind.Ddpm)
            throw new InvalidInputException($"--beta-schedule applies to the ddpm formulation only (got --formulation {options.Formulation.Kind.ToName()}, which has no beta schedule)");
        var schedule = new NoiseScheduleConfig(s.TrainTimesteps, 0.0001, 0.02, BetaScheduleNames.Parse(s.BetaSchedule ?? "linear", "--beta-schedule"));
        schedule.Validate();
        return schedule;
    }

    /// <summary>
    /// Starts a latent run: the VAE of --vae is copied into the run's vae/, the images are encoded once (or the cache in
    /// latents/ is reused when its key matches), and the U-Net trains on the scaled latents.
    /// </summary>
    private static Trainer StartLatentRun(Settings s, TrainingOptions options, torch.Device device, TrainingSeams seams)
    {
        if (s.PromptColumn is not null) return StartTextToImageRun(s, options, device, seams);
        var config = ModelSpecs.Config(s.Model);
        using var inputs = OpenLatentInputs(s, config.InChannels, config.SampleSize, config.BlockOutChannels.Count, "emoji-latent-small", device, seams);
        config = config with { SampleSize = inputs.LatentSide };
        var images = inputs.Images;
        if (s.ClassConditional)
        {
            if (!images.HasLabels)
                throw new InvalidInputException($"--class-conditional: --data {s.Data} has no class labels"
                    + (images is ImageFolderDataset { HasCaptions: true } ? $" (name a {ImageFolderMetadata.FileName} column with --label-column)" : ""));
            config = config with { NumClassEmbeds = images.NumClasses + 1 };
        }
        var schedule = LatentSchedule(s, options);
        if (!s.Overwrite && RunFolder.IsRun(s.Out!))
            throw new InvalidInputException($"--out: {s.Out} already holds a training run; pass --resume to continue it or --overwrite to replace it");
        var run = RunFolder.Create(s.Out!, s.Overwrite);
        run.WriteVae(inputs.VaeFolder);
        var data = EncodeLatents(run, inputs.Vae, images);
        var model = new UNet2DModel(config, device);
        return Trainer.Start(run, model, data, inputs.Spec, schedule, options, seams);
    }

    /// <summary>
    /// Starts a text-to-image run (--prompt-column): a UNet2DConditionModel and a CLIP text encoder trained together on the
    /// latents, each image's prompt tokenized once with the bundled CLIP tokenizer (copied to tokenizer/); the run folder is a
    /// StableDiffusionPipeline folder.
    /// </summary>
    private static Trainer StartTextToImageRun(Settings s, TrainingOptions options, torch.Device device, TrainingSeams seams)
    {
        var unet = ModelSpecs.ConditionConfig(s.Model);
        var text = ModelSpecs.TextEncoderConfig(s.TextEncoder ?? "clip-text-small");
        new TextConditionedUNetConfig(unet, text).Validate();
        string tokenizerFolder = BundledData.ClipTokenizerDirectory;
        var tokenizer = Text.ClipTokenizer.FromPretrained(tokenizerFolder);
        if (tokenizer.VocabSize > text.VocabSize)
            throw new InvalidInputException($"--text-encoder: vocab_size {text.VocabSize} is smaller than the CLIP tokenizer's {tokenizer.VocabSize} tokens");
        if (tokenizer.ModelMaxLength > text.MaxPositionEmbeddings)
            throw new InvalidInputException($"--text-encoder: max_position_embeddings {text.MaxPositionEmbeddings} is shorter than the tokenizer's {tokenizer.ModelMaxLength}-token rows");
        using var inputs = OpenLatentInputs(s, unet.InChannels, unet.SampleSize, unet.BlockOutChannels.Count, "emoji-text-small", device, seams);
        var config = new TextConditionedUNetConfig(unet with { SampleSize = inputs.LatentSide }, text);
        var prompts = inputs.Spec.ReadPrompts(inputs.Images);
        var schedule = LatentSchedule(s, options);
        if (!s.Overwrite && RunFolder.IsRun(s.Out!))
            throw new InvalidInputException($"--out: {s.Out} already holds a training run; pass --resume to continue it or --overwrite to replace it");
        var run = RunFolder.Create(s.Out!, s.Overwrite);
        run.WriteVae(inputs.VaeFolder);
        var latents = EncodeLatents(run, inputs.Vae, inputs.Images);
        var data = new CaptionedLatentDataset(latents, prompts, tokenizerFolder);
        if (data.Truncations.Count > 0)
            Console.Error.WriteLine(
                $"warning: {data.Truncations.Count} prompt(s) of --prompt-column {s.PromptColumn} are longer than the tokenizer's {data.Length} tokens and were truncated as diffusers does; the first: {data.Truncations[0].Message}");
        AnsiConsole.MarkupLineInterpolated(
            $"prompts: {data.Count} from column '{s.PromptColumn}' ({prompts.Distinct(StringComparer.Ordinal).Count()} distinct), tokenized to {data.Length}-token CLIP rows; empty prompt with probability {options.CondDrop}");
        using var generator = new torch.Generator((ulong)s.Seed);
        var model = new TextConditionedUNet(config, device, generator);
        return Trainer.Start(run, model, data, inputs.Spec, schedule, options, seams);
    }

    /// <summary>The latents of the run's data: the cache when its key matches, otherwise encoded now (with a progress line).</summary>
    private static LatentDataset EncodeLatents(RunFolder run, Models.Autoencoders.IAutoencoder vae, IImageDataset images)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        LatentDataset data = null!;
        AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask($"encoding {images.Count} images with the VAE", maxValue: images.Count);
            data = LatentCache.LoadOrBuild(run.LatentsDir, run.VaeDir, vae, images,
                progress: new Progress<(int Done, int Total)>(p => task.Value = p.Done));
        });
        string shape = string.Join("x", data.LatentShape);
        if (data.Reused) AnsiConsole.MarkupLineInterpolated($"latents: reused the cache in {run.LatentsDir} ({data.Count} images, {shape})");
        else AnsiConsole.MarkupLineInterpolated($"latents: encoded {data.Count} images to {shape} in {clock.Elapsed.TotalSeconds:F1} s, cached in {run.LatentsDir}");
        return data;
    }

    /// <summary>Starts a run of an audio model on a WAV folder (or the bundled spoken digits); the image-only options are errors.</summary>
    private static Trainer StartAudioRun(Settings s, TrainingOptions options, AudioUNet1DConfig config, torch.Device device, TrainingSeams seams)
    {
        if (s.ImageSize is not null)
            throw new InvalidInputException($"--resolution: --model {s.Model} is an audio model; clips have a length, not a resolution (use --length)");
        if (s.Grayscale || s.Flip || s.Background is not null || s.Labels is not null)
            throw new InvalidInputException($"--grayscale, --flip, --background and --labels apply to images; --model {s.Model} is an audio model");
        if (s.Length is int length)
        {
            if (length < config.Downsampling || length % config.Downsampling != 0)
                throw new InvalidInputException(
                    $"--length {length}: expected a positive multiple of {config.Downsampling}, because the model shortens clips by {config.DownsamplingText}");
            config = config with { SampleSize = length };
        }
        double? fixedScale = null;
        if (s.DataScale is { } scaleText)
        {
            if (DataSpec.IsCsvFile(s.Data))
                throw new InvalidInputException($"--data-scale applies to audio; --data {s.Data} is a CSV of time series, which training normalises to [-1, 1] itself");
            if (!string.Equals(scaleText, "auto", StringComparison.OrdinalIgnoreCase))
            {
                if (!double.TryParse(scaleText, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var scale)
                    || !double.IsFinite(scale) || scale <= 0 || scale > AudioUNet1DConfig.MaxDataScale)
                    throw new InvalidInputException($"--data-scale {scaleText}: expected auto or a number in (0, {AudioUNet1DConfig.MaxDataScale}]");
                fixedScale = scale;
            }
        }
        if (DataSpec.IsCsvFile(s.Data)) return StartSeriesRun(s, options, config, device, seams);
        if (s.SeriesLayout is not null || s.CsvHeader)
            throw new InvalidInputException($"{(s.SeriesLayout is not null ? "--series-layout" : "--csv-header")} applies to a .csv --data file of time series (got --data {s.Data})");
        var spec = new DataSpec(s.Data, Strict: s.Strict, LabelColumn: s.LabelColumn);
        if (!spec.IsAudio && !Directory.Exists(s.Data))
            throw new InvalidInputException($"--data: {s.Data} is neither '{DataSpec.SpokenDigits}' nor a folder of WAV files, and --model {s.Model} is an audio model");
        IDataset data = spec.OpenAudio(config.SampleRate, config.InChannels, config.SampleSize);
        if (s.ClassConditional)
        {
            if (!data.HasLabels) throw new InvalidInputException($"--class-conditional: --data {s.Data} has no class labels (a metadata.jsonl with a \"{s.LabelColumn ?? "label"}\" column)");
            config = config with { NumClassEmbeds = data.NumClasses + 1 };
        }
        if (fixedScale is double given) config = config with { DataScale = given };
        else if (s.DataScale is not null)
        {
            var (scale, std) = AutoDataScale(data);
            config = config with { DataScale = scale };
            AnsiConsole.MarkupLineInterpolated($"data scale {scale.ToString(System.Globalization.CultureInfo.InvariantCulture)}: 0.5 / the clips' standard deviation {std.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture)}");
        }
        return StartOneDimensionalRun(s, options, config, data, spec, device, seams);
    }

    /// <summary>
    /// <c>--data-scale auto</c>: 0.5 / the standard deviation of every value of every clip (the level of images in [-1, 1]),
    /// to three significant digits so the config reads plainly.
    /// </summary>
    /// <exception cref="InvalidInputException">The clips are silent.</exception>
    private static (double Scale, double Std) AutoDataScale(IDataset data)
    {
        var std = DatasetStatistics.StandardDeviation(data);
        if (!(std > 1e-6)) throw new InvalidInputException("--data-scale auto: the training clips are silent (standard deviation 0); give a number");
        var raw = Math.Min(0.5 / std, AudioUNet1DConfig.MaxDataScale);
        return (Math.Round(raw, Math.Max(0, 2 - (int)Math.Floor(Math.Log10(raw)))), std);
    }

    /// <summary>
    /// Starts a run of a 1-D model on a CSV file of time series: the model takes the series' length; the trainer writes the
    /// normalisation to the run folder so samples are mapped back to the data's units.
    /// </summary>
    private static Trainer StartSeriesRun(Settings s, TrainingOptions options, AudioUNet1DConfig config, torch.Device device, TrainingSeams seams)
    {
        var layout = s.SeriesLayout?.ToLowerInvariant() switch
        {
            null or "rows" => TimeSeriesLayout.Rows,
            "columns" => TimeSeriesLayout.Columns,
            _ => throw new InvalidInputException($"--series-layout: unknown layout '{s.SeriesLayout}' (expected rows or columns)"),
        };
        if (s.LabelColumn is not null) throw new InvalidInputException($"--label-column: --data {s.Data} is a CSV of time series, which has no label columns");
        if (s.ClassConditional) throw new InvalidInputException($"--class-conditional: --data {s.Data} has no class labels (a CSV of time series carries none)");
        if (config.InChannels != 1) throw new InvalidInputException($"--model {s.Model} has in_channels {config.InChannels}, but a CSV of time series has 1 channel");
        var spec = new DataSpec(s.Data, SeriesLayout: layout, SeriesHeader: s.CsvHeader);
        var data = spec.OpenSeries();
        var length = data.SampleShape[1];
        if (s.Length is int asked && asked != length)
            throw new InvalidInputException($"--length {asked}: the series in {s.Data} have {length} values each, and series are not cropped or padded (leave out --length)");
        if (length < config.Downsampling || length % config.Downsampling != 0)
            throw new InvalidInputException(
                $"--data {s.Data}: its series have {length} values, but --model {s.Model} takes lengths that are positive multiples of {config.Downsampling} (it shortens series by {config.DownsamplingText}); crop or pad the series");
        return StartOneDimensionalRun(s, options, config with { SampleSize = length }, data, spec, device, seams);
    }

    private static Trainer StartOneDimensionalRun(Settings s, TrainingOptions options, AudioUNet1DConfig config, IDataset data, DataSpec spec,
        torch.Device device, TrainingSeams seams)
    {
        if (s.BetaSchedule is not null && options.Formulation.Kind != FormulationKind.Ddpm)
            throw new InvalidInputException($"--beta-schedule applies to the ddpm formulation only (got --formulation {options.Formulation.Kind.ToName()}, which has no beta schedule)");
        var schedule = new NoiseScheduleConfig(s.TrainTimesteps, 0.0001, 0.02, BetaScheduleNames.Parse(s.BetaSchedule ?? "linear", "--beta-schedule"));
        schedule.Validate();
        if (seams.Role.WritesFiles && !s.Overwrite && RunFolder.IsRun(s.Out!))
            throw new InvalidInputException($"--out: {s.Out} already holds a training run; pass --resume to continue it or --overwrite to replace it");
        var run = seams.Role.WritesFiles ? RunFolder.Create(s.Out!, s.Overwrite) : RunFolder.At(s.Out!);
        var model = new AudioUNet1DModel(config, device);
        return Trainer.Start(run, model, data, spec, schedule, options, seams);
    }

    /// <summary>
    /// A diffusers UNet2DModel halves the image at the end of every level but the last, so the side must divide by
    /// 2^(levels - 1) for the up path to meet the skip connections at the same sizes.
    /// </summary>
    private static int CheckResolution(int resolution, UNet2DConfig config)
    {
        int halvings = config.BlockOutChannels.Count - 1;
        int factor = 1 << halvings;
        if (resolution < factor || resolution % factor != 0)
            throw new InvalidInputException(
                $"--resolution {resolution}: expected a positive multiple of {factor}, because the model halves the image {halvings} time(s) ({config.BlockOutChannels.Count} levels)");
        return resolution;
    }

    private static Trainer ResumeRun(Settings s, TrainingSeams seams)
    {
        var run = seams.Role.WritesFiles ? RunFolder.Open(s.Out!) : RunFolder.At(s.Out!);
        if (s.Steps is < 1) throw new InvalidInputException($"--steps must be at least 1 (got {s.Steps})");
        return Trainer.Resume(run, s.Steps, seams);
    }

    private static void WriteSampleGrid(RunFolder run, Trainer trainer, IDenoiser ema, Models.Autoencoders.IAutoencoder? vae, int step)
    {
        var o = trainer.Options;
        if (ema is TextConditionedUNet text && trainer.Data is CaptionedLatentDataset captioned && vae is not null)
        {
            WriteTextSampleGrid(run, trainer, text, captioned, vae, step);
            return;
        }
        using var pipeline = DiffusionPipeline.FromModel(ema, GridSampler(trainer), vae);
        bool final = step >= o.Steps;
        using var recorder = final ? new TrajectoryRecorder(frames: 10, samples: 4, pipeline.DecodesSamples ? pipeline.Decode : null) : null;
        var (count, labels, columns) = GridLayout(pipeline.NumClasses, o.SampleCount);
        if (ema.Config is AudioUNet1DConfig && SeriesBatch.FindNormalization(run.Root) is { } normalization)
        {
            using var generated = pipeline.Generate(count, o.SampleSteps, o.Seed + 1, labels,
                batchSize: count, onStep: recorder is null ? null : (_, s) => recorder.Record(s));
            Directory.CreateDirectory(run.SamplesDir);
            string plots = Path.Combine(run.SamplesDir, $"step-{step:D7}.png");
            string csv = Path.Combine(run.SamplesDir, $"step-{step:D7}.csv");
            Plots.SaveSeriesGrid(plots, SeriesBatch.SaveCsv(generated, csv, normalization), columns);
            AnsiConsole.MarkupLineInterpolated($"wrote [green]{plots}[/] and {count} series in [green]{csv}[/] ({GridSamplerName(trainer)} {o.SampleSteps} steps, EMA weights, in the data's units)");
            if (recorder is null) return;
            string strip = Path.Combine(run.SamplesDir, "reverse-process.png");
            recorder.Save(strip, pipeline.Scheduler.Name);
            AnsiConsole.MarkupLineInterpolated($"wrote [green]{strip}[/]");
            return;
        }
        if (ema.Config is AudioUNet1DConfig audio)
        {
            using var clips = pipeline.Generate(count, o.SampleSteps, o.Seed + 1, labels,
                batchSize: count, onStep: recorder is null ? null : (_, s) => recorder.Record(s));
            Directory.CreateDirectory(run.SamplesDir);
            string picture = Path.Combine(run.SamplesDir, $"step-{step:D7}.png");
            WaveformPicture.SavePng(clips, picture, columns);
            string wavs = Path.Combine(run.SamplesDir, $"step-{step:D7}");
            WavBatch.Save(clips, wavs, audio.SampleRate);
            AnsiConsole.MarkupLineInterpolated($"wrote [green]{picture}[/] and {count} WAVs in [green]{wavs}[/] ({GridSamplerName(trainer)} {o.SampleSteps} steps, EMA weights)");
            if (recorder is null) return;
            string film = Path.Combine(run.SamplesDir, "reverse-process.png");
            recorder.Save(film, pipeline.Scheduler.Name);
            AnsiConsole.MarkupLineInterpolated($"wrote [green]{film}[/] (the reverse process as spectrograms)");
            return;
        }
        using var images = pipeline.Generate(count, o.SampleSteps, o.Seed + 1, labels,
            batchSize: count, onStep: recorder is null ? null : (_, s) => recorder.Record(s));
        Directory.CreateDirectory(run.SamplesDir);
        string grid = Path.Combine(run.SamplesDir, $"step-{step:D7}.png");
        ImageGrid.SavePng(images, grid, columns);
        if (recorder is null) return;
        string trajectory = Path.Combine(run.SamplesDir, "reverse-process.png");
        recorder.Save(trajectory, pipeline.Scheduler.Name);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{grid}[/] ({count} samples, {GridSamplerName(trainer)} {o.SampleSteps} steps, EMA weights) and [green]{trajectory}[/]");
    }

    /// <summary>Guidance scale of the training grids of text-to-image runs.</summary>
    private const double TextGridGuidance = 3.0;

    /// <summary>
    /// The grid of a text-to-image run: up to 16 of the training prompts (evenly spaced through the data, distinct), one image
    /// each from the EMA weights at guidance 3, in row order; the prompts are listed in a .txt file beside the PNG.
    /// </summary>
    private static void WriteTextSampleGrid(RunFolder run, Trainer trainer, TextConditionedUNet ema, CaptionedLatentDataset data,
        Models.Autoencoders.IAutoencoder vae, int step)
    {
        var o = trainer.Options;
        int wanted = Math.Clamp(o.SampleCount, 1, 16);
        var prompts = Enumerable.Range(0, wanted).Select(i => data.Captions[(int)((long)i * data.Count / wanted)])
            .Distinct(StringComparer.Ordinal).ToList();
        int side = (ema.Unet.Config.SampleSize ?? 16) * vae.DownsamplingFactor;
        var scheduler = GridSampler(trainer);
        var images = new List<torch.Tensor>();
        try
        {
            using var mode = torch.inference_mode();
            using var nullRow = data.NullIds.unsqueeze(0);
            using var negative = ema.EncodeIds(nullRow);
            for (int i = 0; i < prompts.Count; i++)
            {
                using var scope = torch.NewDisposeScope();
                using var ids = data.Tokenizer.Tokenize([prompts[i]]).InputIdsTensor(ema.Device);
                var hidden = ema.EncodeIds(ids);
                using var result = StableDiffusionPipeline.GenerateFromEmbeddings(ema.Unet, vae, scheduler, hidden, negative, TextGridGuidance,
                    o.SampleSteps, side, side, o.Seed + 1 + i);
                images.Add(result.Image.clone().DetachFromDisposeScope());
            }
            using var batch = torch.cat(images, 0);
            Directory.CreateDirectory(run.SamplesDir);
            string grid = Path.Combine(run.SamplesDir, $"step-{step:D7}.png");
            ImageGrid.SavePng(batch, grid, Math.Min(4, prompts.Count));
            string list = Path.Combine(run.SamplesDir, $"step-{step:D7}.txt");
            IO.AtomicFile.WriteAllText(list, string.Join("\n", prompts) + "\n");
            AnsiConsole.MarkupLineInterpolated(
                $"wrote [green]{grid}[/] ({prompts.Count} training prompts, listed in {list}; {GridSamplerName(trainer)} {o.SampleSteps} steps, guidance {TextGridGuidance}, EMA weights)");
        }
        finally
        {
            foreach (var t in images) t.Dispose();
        }
    }

    /// <summary>Scores <paramref name="count"/> samples of the EMA model, drawn as the grids are (a class-conditional one: every class equally often), and appends the scores to eval.csv.</summary>
    private static void Evaluate(RunFolder run, Trainer trainer, IDenoiser ema, int step, int count, double guidance, Evaluation.DigitEvaluation evaluation)
    {
        var o = trainer.Options;
        if (ema.Config.SampleShape is not [1, 28, 28])
            throw new InvalidInputException("--eval-every: FID-MNIST scores 28x28 grayscale digits; this model makes other images");
        using var pipeline = DiffusionPipeline.FromModel(ema, GridSampler(trainer));
        var labels = BalancedLabels(pipeline.NumClasses, count);
        using var images = pipeline.Generate(count, o.SampleSteps, o.Seed + 2, labels, labels is null ? 1.0 : guidance, batchSize: 100);
        var r = evaluation.Evaluate(images);
        string path = Path.Combine(run.Root, "eval.csv");
        if (!File.Exists(path)) File.WriteAllText(path, "step,samples,fid_mnist,mean_confidence,class_entropy\n");
        File.AppendAllText(path, FormattableString.Invariant($"{step},{r.SampleCount},{r.FidMnist:R},{r.MeanConfidence:R},{r.ClassEntropy:R}\n"));
        Console.WriteLine(FormattableString.Invariant($"eval at step {step}: FID-MNIST {r.FidMnist:F2} ({r.SampleCount} {GridSamplerName(trainer)}-{o.SampleSteps} samples), confidence {r.MeanConfidence:F3}, class entropy {r.ClassEntropy:F3}"));
    }

    /// <summary>The shipped spoken-digit classifier, checked against the audio model's clips before training starts.</summary>
    private static Evaluation.SpokenDigitEvaluation OpenAudioEvaluation(RunFolder run, AudioUNet1DConfig audio)
    {
        if (SeriesBatch.FindNormalization(run.Root) is not null)
            throw new InvalidInputException("--eval-every: scores spoken digits (FID-MNIST scores digit images); this run is a time-series model");
        var evaluation = Evaluation.SpokenDigitEvaluation.Open(Evaluation.ShippedClassifier.SpokenDigitDirectory);
        try
        {
            evaluation.CheckClips(audio.SampleRate, audio.SampleSize, audio.InChannels, "--eval-every");
            return evaluation;
        }
        catch
        {
            evaluation.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Scores <paramref name="count"/> clips of the EMA model, drawn as the grids are (every class equally often, with
    /// <paramref name="guidance"/>), with the spoken-digit classifier, and appends the scores to eval.csv.
    /// </summary>
    private static void EvaluateAudio(RunFolder run, Trainer trainer, IDenoiser ema, int step, int count, double guidance, Evaluation.SpokenDigitEvaluation evaluation)
    {
        var o = trainer.Options;
        using var pipeline = DiffusionPipeline.FromModel(ema, GridSampler(trainer));
        var labels = BalancedLabels(pipeline.NumClasses, count);
        double g = labels is null ? 1.0 : guidance;
        using var clips = pipeline.Generate(count, o.SampleSteps, o.Seed + 2, labels, g, batchSize: 50);
        var requested = labels is null ? null : evaluation.MapLabels(labels, ClassNamesFile.Read(run.Root), "--eval-every");
        var r = evaluation.Evaluate(clips, requested);
        string path = Path.Combine(run.Root, "eval.csv");
        if (!File.Exists(path)) File.WriteAllText(path, "step,samples,guidance,frechet_distance,mean_confidence,accuracy\n");
        File.AppendAllText(path, FormattableString.Invariant($"{step},{r.SampleCount},{g:R},{r.FrechetDistance:R},{r.MeanConfidence:R},{(r.Accuracy is double a ? a.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "")}\n"));
        Console.WriteLine(FormattableString.Invariant(
            $"eval at step {step}: Fréchet distance {r.FrechetDistance:F1} ({r.SampleCount} {GridSamplerName(trainer)}-{o.SampleSteps} clips, guidance {g:G3}), confidence {r.MeanConfidence:F3}{(r.Accuracy is double acc ? $", accuracy {acc:P1}" : "")}"));
    }

    /// <summary>
    /// The sampler of the periodic grids and evaluations: DDIM (trailing) for ddpm, over the run folder's scheduler config for a
    /// latent run (which does not clip the predicted latents); the run folder's own sampler for flow and edm.
    /// </summary>
    private static IScheduler GridSampler(Trainer trainer) => trainer.Formulation.Kind != FormulationKind.Ddpm
        ? SchedulerFactory.FromConfigJson(trainer.Formulation.PipelineScheduler().ConfigJson)
        : trainer.IsLatent
        ? SchedulerFactory.FromConfigJson(Trainer.WithoutSampleClipping(trainer.Formulation.PipelineScheduler().ConfigJson), "ddim")
        : SchedulerFactory.Create("ddim", trainer.Schedule, trainer.Options.PredictionType, TimestepSpacing.Trailing);

    /// <summary>How the messages name <see cref="GridSampler"/>: DDIM, or the catalog name of the formulation's sampler.</summary>
    private static string GridSamplerName(Trainer trainer) =>
        trainer.Formulation.Kind == FormulationKind.Ddpm ? "DDIM" : SamplerCatalog.ForClass(trainer.Formulation.PipelineScheduler().ClassName).Name;

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
