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
}
