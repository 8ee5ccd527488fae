namespace DiffusionSharp.Cli;

/// <summary>
/// Maps the library's names in error messages to the command-line options a user typed: config keys (in the schedule
/// commands) and the properties an <see cref="InvalidInputException"/> names (<see cref="InvalidInputException.Property"/>).
/// </summary>
public static class CliNames
{
    private static readonly (string Key, string Option)[] Map =
    [
        ("num_train_timesteps", "--timesteps"),
        ("beta_start", "--beta-start"),
        ("beta_end", "--beta-end"),
        ("beta_schedule", "--beta-schedule"),
    ];

    /// <summary>The flag of each library property (<c>Type.Member</c>) whose value comes from an option.</summary>
    private static readonly Dictionary<string, string> Flags = new(StringComparer.Ordinal)
    {
        ["TrainingOptions.Steps"] = "--steps",
        ["TrainingOptions.BatchSize"] = "--batch",
        ["TrainingOptions.MicroBatchSize"] = "--micro-batch",
        ["TrainingOptions.LearningRate"] = "--lr",
        ["TrainingOptions.WarmupSteps"] = "--warmup",
        ["TrainingOptions.WeightDecay"] = "--weight-decay",
        ["TrainingOptions.GradClip"] = "--grad-clip",
        ["TrainingOptions.EmaDecay"] = "--ema-decay",
        ["TrainingOptions.SnrGamma"] = "--snr-gamma",
        ["TrainingOptions.PredictionType"] = "--prediction-type",
        ["FormulationOptions.Kind"] = "--formulation",
        ["SamplerOverrides.SingleShift"] = "--single-shift",
        ["FormulationOptions.P2Gamma"] = "--p2-gamma",
        ["FormulationOptions.P2K"] = "--p2-k",
        ["FormulationOptions.Density"] = "--sigma-density",
        ["FormulationOptions.LogitMean"] = "--logit-mean",
        ["FormulationOptions.LogitStd"] = "--logit-std",
        ["FormulationOptions.ModeScale"] = "--mode-scale",
        ["FormulationOptions.Shift"] = "--shift",
        ["FormulationOptions.FlowWeighting"] = "--flow-weighting",
        ["FormulationOptions.PreconditionOutputs"] = "--precondition-outputs",
        ["FormulationOptions.PMean"] = "--p-mean",
        ["FormulationOptions.PStd"] = "--p-std",
        ["FormulationOptions.SigmaData"] = "--sigma-data",
        ["TrainingOptions.CondDrop"] = "--cond-drop",
        ["TrainingOptions.CheckpointEvery"] = "--checkpoint-every",
        ["TrainingOptions.KeepCheckpoints"] = "--keep",
        ["TrainingOptions.SampleEvery"] = "--sample-every",
        ["TrainingOptions.SampleCount"] = "--sample-count",
        ["TrainingOptions.MaxBadSteps"] = "--max-bad-steps",
        ["VaeTrainingOptions.Steps"] = "--steps",
        ["VaeTrainingOptions.BatchSize"] = "--batch",
        ["VaeTrainingOptions.LearningRate"] = "--lr",
        ["VaeTrainingOptions.KlWeight"] = "--kl-weight",
        ["VaeTrainingOptions.EmaDecay"] = "--ema-decay",
        ["VaeTrainingOptions.CheckpointEvery"] = "--checkpoint-every",
        ["VaeTrainingOptions.KeepCheckpoints"] = "--keep",
        ["VaeTrainingOptions.HeldOut"] = "--held-out",
        ["VaeTrainer.Model"] = "--model",
        ["RunFolder.Root"] = "--out",
        ["RunFolder.Resume"] = "--resume",
        ["Trainer.Data"] = "--data",
        ["Trainer.Model"] = "--model",
        ["DataSpec.Source"] = "--data",
        ["DataSpec.Labels"] = "--labels",
        ["DataSpec.LabelColumn"] = "--label-column",
        ["DataSpec.Background"] = "--background",
        ["DataSpec.PromptColumn"] = "--prompt-column",
        ["TextConditionedUNetConfig.TextEncoder"] = "--text-encoder",
        ["Memorisation.threshold"] = "--near-copy",
        ["WindowPlan.Seconds"] = "--seconds",
        ["WindowPlan.Windows"] = "--windows",
        ["WindowPlan.Warmup"] = "--warmup-steps",
        ["PerformanceCeiling.given"] = "--ceiling",
        ["TrainBenchmark.Options.Batch"] = "--batch",
        ["TrainBenchmark.Options.MicroBatch"] = "--micro-batch",
        ["TrainBenchmark.Options.ProfileSteps"] = "--profile",
        ["TrainBenchmark.Options.CheckpointActivations"] = "--checkpoint-activations",
        ["TrainBenchmark.Options.Config"] = "--model",
        ["SampleBenchmark.Options.Steps"] = "--steps",
        ["SampleBenchmark.Options.Batch"] = "--batch",
        ["SampleBenchmark.Options.Model"] = "--model",
        ["TextToImageBenchmark.Options.Steps"] = "--steps",
        ["TextToImageBenchmark.Options.Guidance"] = "--guidance",
        ["TextToImageBenchmark.Options.PromptIds"] = "--prompt",
        ["ForwardBenchmark.Options.Batch"] = "--batch",
        ["ForwardBenchmark.Options.Model"] = "--model",
        ["ConvBenchmark.Options.Batch"] = "--batch",
        ["ConvBenchmark.Options.Channels"] = "--channels",
        ["ConvBenchmark.Options.Filters"] = "--filters",
        ["ConvBenchmark.Options.Size"] = "--size",
        ["TorchRuntime.threads"] = "--threads",
        ["TorchRuntime.device"] = "--device",
        ["DiffusionPipeline.folder"] = "--model",
        ["DiffusionPipeline.useEma"] = "--ema",
        ["DiffusionPipeline.count"] = "--count",
        ["DiffusionPipeline.batchSize"] = "--batch",
        ["DiffusionPipeline.condition"] = "--class",
        ["DiffusionPipeline.guidance"] = "--guidance",
        ["StableDiffusionPipeline.folder"] = "--model",
        ["StableDiffusionPipeline.size"] = "--size",
        ["StableDiffusionPipeline.steps"] = "--steps",
        ["StableDiffusionPipeline.guidance"] = "--guidance",
        // sampler choice and editing
        ["SamplerCatalog.samplerName"] = "--sampler",
        ["SamplerOverrides.KarrasSigmas"] = "--karras",
        ["SamplerOverrides.TimestepSpacing"] = "--spacing",
        ["SamplerOverrides.Eta"] = "--eta",
        ["DDIMSchedulerOptions.Eta"] = "--eta",
        ["EditOptions.Strength"] = "--strength",
        ["EditOptions.Steps"] = "--steps",
        ["EditOptions.Resample"] = "--resample",
        ["ImageEditor.mask"] = "--mask",
        ["ImageEditing.samplerName"] = "--sampler",
        ["ImageEditing.mask"] = "--mask",
        ["ImageEditing.image"] = "--image",
        ["ImageEditing.guidance"] = "--guidance",
        // diffuse studio
        ["StudioOptions.ModelsRoot"] = "--models",
        ["StudioOptions.RunsRoot"] = "--runs",
        ["StudioOptions.Host"] = "--host",
        ["StudioOptions.Port"] = "--port",
        ["StudioOptions.Token"] = "--token",
        ["StudioOptions.MaxQueuedGenerations"] = "--max-queue",
        ["StudioBenchmark.Options.Runs"] = "--runs",
        ["StudioBenchmark.Options.Model"] = "--model",
        ["GenerateRequest.Steps"] = "--steps",
        ["GenerateRequest.Count"] = "--count",
        ["GenerateRequest.Guidance"] = "--guidance",
        ["GenerateRequest.Ema"] = "--ema",
        ["GenerateRequest.Model"] = "--model",
    };

    public static string Rename(string message)
    {
        foreach (var (key, option) in Map) message = message.Replace(key, option, StringComparison.Ordinal);
        return message;
    }

    /// <summary>The flag a library property is set with, or null when no option sets it.</summary>
    public static string? FlagOf(string property) => Flags.GetValueOrDefault(property);

    /// <summary>
    /// The message as a user of the CLI reads it: for each property the exception names (<see cref="InvalidInputException.Properties"/>)
    /// that an option sets, the first whole-word occurrence of its member name (for the first, the message's leading
    /// name) replaced by its flag.
    /// </summary>
    public static string ForUser(InvalidInputException e) => e.MessageWith(FlagOf);
}
