using DiffusionSharp.Data;

namespace DiffusionSharp.Training;

/// <summary>
/// Which of the processes training one model this one is, and so what it does besides the shared steps: it reads its
/// <see cref="Shard"/> of every batch, and only the writer (rank 0) writes the run folder (checkpoints, loss log,
/// pipeline files, sample grids). The one object that decides who writes; in a single process it is <see cref="Single"/>.
/// </summary>
/// <param name="Rank">This process, 0..Count-1.</param>
/// <param name="Count">Processes training together.</param>
public sealed record ProcessRole(int Rank, int Count)
{
    /// <summary>The only process: it reads whole batches and writes every file.</summary>
    public static ProcessRole Single { get; } = new(0, 1);

    /// <summary>Whether this process writes the run folder: exactly one does.</summary>
    public bool WritesFiles => Rank == 0;

    /// <summary>This process's rows of every batch.</summary>
    public DataShard Shard => new(Rank, Count);

    /// <summary>
    /// Checks that a global batch of <paramref name="batchSize"/> splits evenly over the processes, so every process's
    /// shard has the same size and the mean of their mean losses is the batch's mean loss.
    /// </summary>
    /// <exception cref="InvalidInputException">It does not (property <c>TrainingOptions.BatchSize</c>).</exception>
    public void CheckBatch(int batchSize)
    {
        if (batchSize % Count != 0)
            throw new InvalidInputException(
                $"BatchSize {batchSize} does not split over {Count} processes: the global batch must be a multiple of the process count",
                "TrainingOptions.BatchSize");
    }
}
