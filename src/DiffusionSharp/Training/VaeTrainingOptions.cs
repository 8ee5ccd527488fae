namespace DiffusionSharp.Training;

/// <summary>
/// Every knob of <see cref="VaeTrainer"/>, with its default and why. The objective per image is
/// rec(x, D(z)) + KlWeight · KL(q(z|x) ‖ N(0, I)) / (C·H·W), z ~ q(z|x), with rec the per-pixel mean of L1 or L2: LDM's
/// (Rombach et al. 2022) per-image sum of the reconstruction error plus kl_weight · KL, divided by the pixel count, so
/// <see cref="KlWeight"/> means what LDM's kl_weight means.
/// </summary>
public sealed record VaeTrainingOptions
{
    /// <summary>Total optimizer steps.</summary>
    public int Steps { get; init; } = 2000;

    /// <summary>Images per step.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Peak learning rate; constant after <see cref="WarmupSteps"/> (LDM trains its autoencoders at a constant rate).</summary>
    public double LearningRate { get; init; } = 2e-4;

    /// <summary>Linear warm-up steps.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>
    /// Weight of the KL term. 1e-6 is LDM's value for its KL-regularised autoencoders (configs autoencoder_kl_*: kl_weight
    /// 0.000001): the KL term only keeps the latents near unit scale and centred, it must not blur the reconstructions.
    /// </summary>
    public double KlWeight { get; init; } = 1e-6;

    /// <summary>The reconstruction distance; L1 (as LDM) gives sharper edges than L2 without a perceptual or adversarial loss.</summary>
    public ReconstructionLoss Loss { get; init; } = ReconstructionLoss.L1;

    /// <summary>AdamW β1; 0.5 as LDM's autoencoder optimizer (betas (0.5, 0.9)).</summary>
    public double Beta1 { get; init; } = 0.5;

    /// <summary>AdamW β2; 0.9 as LDM.</summary>
    public double Beta2 { get; init; } = 0.9;

    /// <summary>Clip the global gradient norm (0 = off).</summary>
    public double GradClip { get; init; } = 1.0;

    /// <summary>EMA decay ceiling; the published <c>vae/</c> holds the EMA weights.</summary>
    public double EmaDecay { get; init; } = 0.999;

    /// <summary>Seed of the data order, the held-out split, the posterior samples and the initial weights' draws made here.</summary>
    public long Seed { get; init; }

    /// <summary>Checkpoint every K steps (0 = only at the end).</summary>
    public int CheckpointEvery { get; init; } = 500;

    /// <summary>Checkpoints to keep.</summary>
    public int KeepCheckpoints { get; init; } = 3;

    /// <summary>Held-out images for PSNR (never trained on); null = 5% of the data, at least 1 and at most 256.</summary>
    public int? HeldOut { get; init; }

    /// <summary>Stop after this many non-finite steps in a row.</summary>
    public int MaxBadSteps { get; init; } = 10;

    /// <summary>Checks every value; the error names the option.</summary>
    /// <exception cref="InvalidInputException">A value out of range.</exception>
    public void Validate()
    {
        if (Steps < 1) throw InvalidInputException.For<VaeTrainingOptions>(nameof(Steps), $" must be at least 1 (got {Steps})");
        if (BatchSize < 1) throw InvalidInputException.For<VaeTrainingOptions>(nameof(BatchSize), $" must be at least 1 (got {BatchSize})");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw InvalidInputException.For<VaeTrainingOptions>(nameof(LearningRate), $" must be a positive number (got {LearningRate})");
        if (WarmupSteps < 0) throw InvalidInputException.For<VaeTrainingOptions>(nameof(WarmupSteps), $" must be 0 or more (got {WarmupSteps})");
        if (!(KlWeight >= 0) || double.IsInfinity(KlWeight)) throw InvalidInputException.For<VaeTrainingOptions>(nameof(KlWeight), $" must be 0 or a positive number (got {KlWeight})");
        if (!(Beta1 is >= 0 and < 1) || !(Beta2 is >= 0 and < 1)) throw InvalidInputException.For<VaeTrainingOptions>(nameof(Beta1), $" and Beta2 must lie in [0, 1) (got {Beta1}, {Beta2})");
        if (GradClip < 0) throw InvalidInputException.For<VaeTrainingOptions>(nameof(GradClip), $" must be 0 (off) or more (got {GradClip})");
        if (!(EmaDecay >= 0 && EmaDecay < 1)) throw InvalidInputException.For<VaeTrainingOptions>(nameof(EmaDecay), $" must lie in [0, 1) (got {EmaDecay})");
        if (CheckpointEvery < 0) throw InvalidInputException.For<VaeTrainingOptions>(nameof(CheckpointEvery), $" must be 0 or more (got {CheckpointEvery})");
        if (KeepCheckpoints < 1) throw InvalidInputException.For<VaeTrainingOptions>(nameof(KeepCheckpoints), $" must be at least 1 (got {KeepCheckpoints})");
        if (HeldOut is < 1) throw InvalidInputException.For<VaeTrainingOptions>(nameof(HeldOut), $" must be at least 1 (got {HeldOut})");
        if (MaxBadSteps < 1) throw InvalidInputException.For<VaeTrainingOptions>(nameof(MaxBadSteps), $" must be at least 1 (got {MaxBadSteps})");
    }

    /// <summary>How many of <paramref name="count"/> images are held out.</summary>
    /// <exception cref="InvalidInputException">Too few images to hold any out and still train on one.</exception>
    public int HeldOutCount(int count)
    {
        int n = HeldOut ?? Math.Clamp(count / 20, 1, 256);
        if (n >= count)
            throw new InvalidInputException($"HeldOut: {n} held-out image(s) leave none of the {count} to train on", $"{nameof(VaeTrainingOptions)}.{nameof(HeldOut)}");
        return n;
    }
}
