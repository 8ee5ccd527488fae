using DiffusionSharp.Training;
using Spectre.Console;

namespace DiffusionSharp.Cli;

/// <summary>Shows training progress: a live bar on a terminal, plain lines elsewhere (CI logs, pipes).</summary>
internal static class TrainingProgressView
{
    public static TrainingOutcome Run(Trainer trainer, CancellationToken cancellationToken) =>
        Run(trainer.Options.Steps, trainer.Step, trainer.Options.BatchSize, p => trainer.Train(p, cancellationToken));

    /// <summary>Shows the progress of any trainer: <paramref name="train"/> runs it with the given reporter.</summary>
    public static TrainingOutcome Run(int steps, int startStep, int batchSize, Func<IProgress<TrainingProgress>, TrainingOutcome> train)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            // About 50 lines per run, and at least one every 10 seconds so slow runs still show life.
            int every = Math.Max(1, steps / 50);
            var sinceLine = System.Diagnostics.Stopwatch.StartNew();
            var lines = new ActionProgress(p =>
            {
                if (p.Step % every != 0 && p.Step != p.TotalSteps && sinceLine.Elapsed.TotalSeconds < 10) return;
                sinceLine.Restart();
                Console.WriteLine(FormattableString.Invariant(
                    $"step {p.Step}/{p.TotalSteps}  loss {p.SmoothedLoss:F4}  {p.ImagesPerSecond:F1} img/s  lr {p.LearningRate:G3}  eta {Format(p.Eta(batchSize))}"));
            });
            return train(lines);
        }

        TrainingOutcome? outcome = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: steps);
                task.Value = startStep;
                var progress = new ActionProgress(p =>
                {
                    task.Value = p.Step;
                    task.Description = FormattableString.Invariant($"step {p.Step}/{p.TotalSteps} loss {p.SmoothedLoss:F4} {p.ImagesPerSecond:F0} img/s");
                });
                outcome = train(progress);
            });
        return outcome!;
    }

    private static string Format(TimeSpan? t) => t is { } v ? v.ToString(@"hh\:mm\:ss") : "?";

    /// <summary>Reports on the training thread itself (unlike <see cref="Progress{T}"/>), so output stays in step order.</summary>
    private sealed class ActionProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
