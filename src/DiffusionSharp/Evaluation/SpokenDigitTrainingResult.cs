namespace DiffusionSharp.Evaluation;

/// <summary>What <see cref="SpokenDigitTrainer.Train"/> produced.</summary>
/// <param name="Model">The trained classifier, in eval mode; the caller disposes it.</param>
/// <param name="EpochLosses">Mean training cross-entropy of each epoch (on augmented clips).</param>
/// <param name="HeldOutAccuracy">Fraction of the held-out clips classified correctly.</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="Elapsed">Wall-clock training time, evaluation included.</param>
public sealed record SpokenDigitTrainingResult(
    SpokenDigitClassifier Model, IReadOnlyList<double> EpochLosses, double HeldOutAccuracy, int Steps, TimeSpan Elapsed);
