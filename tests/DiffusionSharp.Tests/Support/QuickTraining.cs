using DiffusionSharp.Training;

namespace DiffusionSharp.Tests.Support;

/// <summary>Options of the short training runs of the tests: constant learning rate from the first step, no checkpoints, seed 1.</summary>
public static class QuickTraining
{
    public static TrainingOptions Options(int steps, int batch) => new()
    {
        Steps = steps,
        BatchSize = batch,
        WarmupSteps = 0,
        Decay = LearningRateDecay.Constant,
        CheckpointEvery = 0,
        Seed = 1,
    };
}
