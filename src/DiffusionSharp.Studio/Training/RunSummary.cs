namespace DiffusionSharp.Studio.Training;

/// <summary>What the Training page shows of a run, polled while it trains.</summary>
/// <param name="Id">The run's folder name.</param>
/// <param name="TotalRows">Rows in <c>loss.csv</c>.</param>
/// <param name="Reset">True when the rows start again from the first (the client had more rows than the file: the run was restarted or resumed from an earlier checkpoint).</param>
/// <param name="Rows">The rows after the client's, each [step, loss (null for a skipped step), learning rate].</param>
/// <param name="Step">The newest step in <c>loss.csv</c> (0 before the first checkpoint).</param>
/// <param name="TargetSteps">The run's step target, from its newest checkpoint; null without one.</param>
/// <param name="BatchSize">Images per step, from the newest checkpoint.</param>
/// <param name="ImagesPerSecond">Training speed between the two newest checkpoints (or over the run), null when unknown.</param>
/// <param name="EtaSeconds">Time to the target at that speed, null when unknown or finished.</param>
/// <param name="TrainingSeconds">Seconds spent training up to the newest checkpoint.</param>
/// <param name="Status">running, finished or stopped.</param>
/// <param name="UpdatedSecondsAgo">Seconds since <c>loss.csv</c> or a checkpoint was last written.</param>
/// <param name="LatestSample">The newest <c>samples/step-NNNNNNN.png</c>, or null.</param>
/// <param name="LatestSampleStep">Its step.</param>
/// <param name="SampleVersion">Changes whenever that file changes (to reload it).</param>
/// <param name="HasReverseProcess">Whether <c>samples/reverse-process.png</c> exists (written at the end of a run).</param>
/// <param name="Eval">The columns and rows of <c>eval.csv</c> (FID-MNIST during training), or null.</param>
public sealed record RunSummary(
    string Id, int TotalRows, bool Reset, IReadOnlyList<double?[]> Rows, int Step, int? TargetSteps, int? BatchSize,
    double? ImagesPerSecond, double? EtaSeconds, double? TrainingSeconds, string Status, double? UpdatedSecondsAgo,
    string? LatestSample, int? LatestSampleStep, long? SampleVersion, bool HasReverseProcess, EvalTable? Eval);

/// <summary>A CSV table of numbers (<c>eval.csv</c>): its header and its rows (null where a value is not a number).</summary>
public sealed record EvalTable(IReadOnlyList<string> Columns, IReadOnlyList<double?[]> Rows);
