namespace DiffusionSharp.Evaluation;

/// <summary>
/// The knobs of <see cref="SpokenDigitTrainer.Train"/>, with the defaults the shipped classifier was trained with.
/// Augmentation acts on the waveform before the log-mel front end, so the features do not hinge on a clip's level,
/// position in the window, or a little hiss: what a generated clip is most likely to differ in without being a worse digit.
/// </summary>
/// <param name="Epochs">Passes over the training clips.</param>
/// <param name="BatchSize">Clips per optimizer step; a last incomplete batch is dropped.</param>
/// <param name="LearningRate">Peak AdamW learning rate (cosine decay to 0).</param>
/// <param name="WeightDecay">AdamW decoupled weight decay.</param>
/// <param name="MaxShift">Largest random time shift in samples, either way (uncovered samples are silence); 0 = off. 800 = 0.1 s at 8 kHz.</param>
/// <param name="MinGain">Each clip is scaled by a gain drawn uniformly from [MinGain, 1]; 1 = off.</param>
/// <param name="MaxNoise">Each clip gets white Gaussian noise of a standard deviation drawn uniformly from [0, MaxNoise]; 0 = off.</param>
/// <param name="Seed">Seed of the initial weights, the order and every augmentation draw.</param>
public sealed record SpokenDigitTrainingOptions(
    int Epochs = 15,
    int BatchSize = 64,
    double LearningRate = 2e-3,
    double WeightDecay = 1e-4,
    int MaxShift = 800,
    double MinGain = 0.25,
    double MaxNoise = 0.01,
    long Seed = 0)
{
    /// <summary>Throws for an option out of range (the batch size is checked against the training set by the trainer).</summary>
    /// <exception cref="InvalidInputException">Names the option.</exception>
    public void Validate()
    {
        if (Epochs < 1) throw InvalidInputException.For<SpokenDigitTrainingOptions>(nameof(Epochs), $" must be at least 1 (got {Epochs})");
        if (BatchSize < 1) throw InvalidInputException.For<SpokenDigitTrainingOptions>(nameof(BatchSize), $" must be at least 1 (got {BatchSize})");
        if (!(LearningRate > 0)) throw InvalidInputException.For<SpokenDigitTrainingOptions>(nameof(LearningRate), $" must be greater than 0 (got {LearningRate})");
        if (!(WeightDecay >= 0)) throw InvalidInputException.For<SpokenDigitTrainingOptions>(nameof(WeightDecay), $" must be at least 0 (got {WeightDecay})");
        if (MaxShift < 0) throw InvalidInputException.For<SpokenDigitTrainingOptions>(nameof(MaxShift), $" must be at least 0 (got {MaxShift})");
        if (!(MinGain > 0 && MinGain <= 1)) throw InvalidInputException.For<SpokenDigitTrainingOptions>(nameof(MinGain), $" must be in (0, 1] (got {MinGain})");
        if (!(MaxNoise >= 0 && MaxNoise < 1)) throw InvalidInputException.For<SpokenDigitTrainingOptions>(nameof(MaxNoise), $" must be in [0, 1) (got {MaxNoise})");
    }
}
