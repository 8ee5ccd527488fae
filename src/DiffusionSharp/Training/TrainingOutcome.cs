namespace DiffusionSharp.Training;

/// <summary>The result of <see cref="Trainer.Train"/>.</summary>
public sealed record TrainingOutcome(StopReason Reason, int Step, int StartStep, TimeSpan Elapsed, int SkippedSteps);
