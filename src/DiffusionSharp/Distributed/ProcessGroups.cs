namespace DiffusionSharp.Distributed;

/// <summary>The front door to distributed runs: the job an MPI launcher started this process in, if any.</summary>
public static class ProcessGroups
{
    /// <summary>
    /// The MPI job of this process when a launcher started it with more than one process; null otherwise, and then no
    /// MPI library (nor MPI.NET) is loaded.
    /// </summary>
    /// <exception cref="InvalidInputException">Open MPI's launcher, or no MPICH-ABI library.</exception>
    public static IProcessGroup? FromEnvironment() =>
        MpiLaunch.FromEnvironment() is { IsDistributed: true } launch ? MpiProcessGroup.Open(launch) : null;

    /// <summary>libtorch threads for one of <paramref name="localCount"/> processes on a host of <paramref name="cores"/> logical processors: an equal share, at least 1.</summary>
    public static int ThreadsPerProcess(int cores, int localCount) => Math.Max(1, cores / Math.Max(1, localCount));
}
