namespace DiffusionSharp.Training;

/// <summary>A progress report after an optimizer step.</summary>
/// <param name="Step">Steps done so far (1-based after the first step).</param>
/// <param name="TotalSteps">The run's target step count.</param>
/// <param name="Loss">This step's loss.</param>
/// <param name="SmoothedLoss">An exponential moving average of the loss (factor 0.98), for display.</param>
/// <param name="ImagesPerSecond">Training throughput over the steps of this session.</param>
/// <param name="LearningRate">The rate used for this step.</param>
/// <param name="SkippedSteps">Steps skipped so far because the loss or a gradient was not finite.</param>
public sealed record TrainingProgress(int Step, int TotalSteps, double Loss, double SmoothedLoss, double ImagesPerSecond, double LearningRate, int SkippedSteps)
{
    /// <summary>Estimated time to finish at the current throughput.</summary>
    public TimeSpan? Eta(int batchSize) => ImagesPerSecond > 0
        ? TimeSpan.FromSeconds((TotalSteps - Step) * (double)batchSize / ImagesPerSecond)
        : null;
}
