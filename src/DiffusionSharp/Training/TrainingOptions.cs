namespace DiffusionSharp.Training;

/// <summary>
/// Every training knob with its default. Defaults follow diffusers' train_unconditional script and lucidrains'
/// denoising-diffusion-pytorch where they agree, and were checked on MNIST on a 2-core CPU.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Optimizer steps to run in total (a resumed run continues to this count).</summary>
    public int Steps { get; init; } = 2000;

    /// <summary>Images per step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// Split each batch into chunks of this many images and accumulate their gradients (null = the whole batch at once).
    /// The update is the same; peak memory falls with the chunk size.
    /// </summary>
    public int? MicroBatchSize { get; init; }

    /// <summary>Peak AdamW learning rate: 2e-4 is the DDPM paper's CIFAR-10 rate and works for small U-Nets.</summary>
    public double LearningRate { get; init; } = 2e-4;

    /// <summary>Linear warm-up steps from 0 to <see cref="LearningRate"/>: avoids early blow-ups from Adam's first moments.</summary>
    public int WarmupSteps { get; init; } = 100;

    /// <summary>After warm-up: constant, or cosine decay to zero at <see cref="Steps"/> (diffusers' default for unconditional training).</summary>
    public LearningRateDecay Decay { get; init; } = LearningRateDecay.Cosine;

    /// <summary>AdamW decoupled weight decay; diffusers' script uses 1e-6.</summary>
    public double WeightDecay { get; init; } = 1e-6;

    /// <summary>Clip the global gradient norm to this value (0 = off); 1.0 as in diffusers' scripts.</summary>
    public double GradClip { get; init; } = 1.0;

    /// <summary>Maximum EMA decay; the effective decay ramps up as (1 + n)/(10 + n) so short runs still get a useful EMA.</summary>
    public double EmaDecay { get; init; } = 0.999;

    /// <summary>Seed for data order, timesteps, noise and label dropping: the same seed gives the same run on the same machine.</summary>
    public long Seed { get; init; }

    /// <summary>What the network learns to predict; the loss target follows.</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary>Min-SNR-gamma loss weighting (Hang et al. 2023); null = plain MSE. 5 is the paper's choice.</summary>
    public double? SnrGamma { get; init; }

    /// <summary>The training objective (ddpm, flow or edm) and its knobs; ddpm by default.</summary>
    public FormulationOptions Formulation { get; init; } = new();

    /// <summary>Probability of replacing a class label with the null class, for classifier-free guidance (conditional models only).</summary>
    public double CondDrop { get; init; } = 0.1;

    /// <summary>Write a checkpoint every this many steps (0 = only at the end and on Ctrl+C).</summary>
    public int CheckpointEvery { get; init; } = 500;

    /// <summary>Keep this many newest checkpoints; older ones are deleted after a newer one is safely written.</summary>
    public int KeepCheckpoints { get; init; } = 3;

    /// <summary>Write a sample grid every this many steps (0 = only at the end).</summary>
    public int SampleEvery { get; init; }

    /// <summary>How many images the periodic sample grids hold.</summary>
    public int SampleCount { get; init; } = 16;

    /// <summary>Sampler steps (DDIM) for the periodic sample grids.</summary>
    public int SampleSteps { get; init; } = 50;

    /// <summary>Stop after this many consecutive steps with a non-finite loss or gradient (such steps are skipped).</summary>
    public int MaxBadSteps { get; init; } = 10;

    /// <summary>Checks every value a user can set; an error names the property (<see cref="InvalidInputException.Property"/>).</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        if (Steps < 1) throw InvalidInputException.For<TrainingOptions>(nameof(Steps), $" must be at least 1 (got {Steps})");
        if (BatchSize < 1) throw InvalidInputException.For<TrainingOptions>(nameof(BatchSize), $" must be at least 1 (got {BatchSize})");
        if (MicroBatchSize is < 1) throw InvalidInputException.For<TrainingOptions>(nameof(MicroBatchSize), $" must be at least 1 (got {MicroBatchSize})");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw InvalidInputException.For<TrainingOptions>(nameof(LearningRate), $" must be a positive number (got {LearningRate})");
        if (WarmupSteps < 0) throw InvalidInputException.For<TrainingOptions>(nameof(WarmupSteps), $" must be 0 or more (got {WarmupSteps})");
        if (WeightDecay < 0) throw InvalidInputException.For<TrainingOptions>(nameof(WeightDecay), $" must be 0 or more (got {WeightDecay})");
        if (GradClip < 0) throw InvalidInputException.For<TrainingOptions>(nameof(GradClip), $" must be 0 (off) or more (got {GradClip})");
        if (!(EmaDecay >= 0 && EmaDecay < 1)) throw InvalidInputException.For<TrainingOptions>(nameof(EmaDecay), $" must lie in [0, 1) (got {EmaDecay})");
        if (SnrGamma is { } g && !(g > 0)) throw InvalidInputException.For<TrainingOptions>(nameof(SnrGamma), $" must be positive (got {g})");
        ValidateFormulation();
        if (!(CondDrop >= 0 && CondDrop < 1)) throw InvalidInputException.For<TrainingOptions>(nameof(CondDrop), $" must lie in [0, 1) (got {CondDrop})");
        if (CheckpointEvery < 0) throw InvalidInputException.For<TrainingOptions>(nameof(CheckpointEvery), $" must be 0 or more (got {CheckpointEvery})");
        if (KeepCheckpoints < 1) throw InvalidInputException.For<TrainingOptions>(nameof(KeepCheckpoints), $" must be at least 1 (got {KeepCheckpoints})");
        if (SampleEvery < 0) throw InvalidInputException.For<TrainingOptions>(nameof(SampleEvery), $" must be 0 or more (got {SampleEvery})");
        if (SampleCount < 1) throw InvalidInputException.For<TrainingOptions>(nameof(SampleCount), $" must be at least 1 (got {SampleCount})");
        if (MaxBadSteps < 1) throw InvalidInputException.For<TrainingOptions>(nameof(MaxBadSteps), $" must be at least 1 (got {MaxBadSteps})");
    }

    /// <summary>The formulation's knobs, and what of these options must fit it: min-SNR weighting and the prediction type.</summary>
    private void ValidateFormulation()
    {
        Formulation.Validate();
        var kind = Formulation.Kind;
        if (SnrGamma is not null && kind != FormulationKind.Ddpm)
            throw new InvalidInputException(
                $"SnrGamma (min-SNR weighting) applies to the ddpm formulation only, which weights by SNR (got formulation {kind.ToName()}, " +
                (kind == FormulationKind.Flow ? "whose weightings are FlowWeighting none, sigma_sqrt and cosmap)" : "whose loss weight is its own lambda(sigma))"),
                $"{nameof(TrainingOptions)}.{nameof(SnrGamma)}", $"{nameof(FormulationOptions)}.{nameof(FormulationOptions.FlowWeighting)}");
        if (SnrGamma is not null && Formulation.P2Gamma is not null)
            throw new InvalidInputException("SnrGamma and P2Gamma are two loss weightings (min-SNR and P2); choose one",
                $"{nameof(TrainingOptions)}.{nameof(SnrGamma)}", $"{nameof(FormulationOptions)}.{nameof(FormulationOptions.P2Gamma)}");
        if (!Formulation.PredictionTypes.Contains(PredictionType))
            throw InvalidInputException.For<TrainingOptions>(nameof(PredictionType),
                $": the {kind.ToName()} formulation trains {string.Join(", ", Formulation.PredictionTypes.Select(p => p.ToDiffusersName()))} (got {PredictionType.ToDiffusersName()})");
    }
}

/// <summary>The learning-rate shape after warm-up.</summary>
public enum LearningRateDecay
{
    /// <summary>Hold the peak rate.</summary>
    Constant,

    /// <summary>Half a cosine from the peak rate down to zero at the last step.</summary>
    Cosine,
}
