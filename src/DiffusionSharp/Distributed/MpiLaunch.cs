using System.Globalization;

namespace DiffusionSharp.Distributed;

/// <summary>
/// What an MPI launcher told this process through its environment, read without loading any MPI library: its rank and
/// the job's size (<c>PMI_RANK</c>, <c>PMI_SIZE</c>: MPICH's Hydra <c>mpiexec</c>, Intel MPI, and Slurm's <c>srun --mpi=pmi2</c>)
/// and, when the launcher says so, its place among the processes of its host (<c>MPI_LOCALRANKID</c>,
/// <c>MPI_LOCALNRANKS</c>: Hydra). Without a launcher there is nothing to read and the process runs alone.
/// </summary>
/// <param name="Rank">This process, 0..Size-1.</param>
/// <param name="Size">Processes in the job.</param>
/// <param name="LocalRank">This process among those on its host, when the launcher says.</param>
/// <param name="LocalSize">Processes on this host, when the launcher says.</param>
public sealed record MpiLaunch(int Rank, int Size, int? LocalRank = null, int? LocalSize = null)
{
    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the launcher and the MPI library.</summary>
    public const string LauncherProperty = "MpiLaunch.Launcher";

    /// <summary>Whether more than one process takes part (otherwise no MPI library is needed).</summary>
    public bool IsDistributed => Size > 1;

    /// <summary>This process's launch, or null when no MPI launcher started it.</summary>
    /// <exception cref="InvalidInputException">Open MPI's launcher started it (another ABI), or the variables are malformed.</exception>
    public static MpiLaunch? FromEnvironment() => FromVariables(Environment.GetEnvironmentVariable);

    /// <summary><see cref="FromEnvironment"/> over any source of variables (for tests).</summary>
    public static MpiLaunch? FromVariables(Func<string, string?> variable)
    {
        ArgumentNullException.ThrowIfNull(variable);
        if (variable("OMPI_COMM_WORLD_SIZE") is not null || variable("OMPI_COMM_WORLD_RANK") is not null)
            throw new InvalidInputException(
                "Launcher: this process was started by Open MPI's mpirun, whose ABI DiffusionSharp cannot use (it binds the MPICH ABI: MPICH, Intel MPI, MVAPICH, Cray MPICH); install mpich and launch with mpiexec.mpich",
                LauncherProperty);
        string? rankText = variable("PMI_RANK"), sizeText = variable("PMI_SIZE");
        if (rankText is null && sizeText is null) return null;
        int rank = Parse("PMI_RANK", rankText), size = Parse("PMI_SIZE", sizeText);
        if (size < 1 || rank < 0 || rank >= size)
            throw new InvalidInputException($"Launcher: PMI_RANK {rank} and PMI_SIZE {size} do not describe a process of the job", LauncherProperty);
        int? localRank = Optional(variable("MPI_LOCALRANKID")), localSize = Optional(variable("MPI_LOCALNRANKS"));
        if (localRank is not { } lr || localSize is not { } ls || ls < 1 || lr < 0 || lr >= ls) (localRank, localSize) = (null, null);
        return new MpiLaunch(rank, size, localRank, localSize);
    }

    private static int Parse(string name, string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value
            : throw new InvalidInputException($"Launcher: {name} is '{text ?? "(unset)"}', not a process number", LauncherProperty);

    private static int? Optional(string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;
}
