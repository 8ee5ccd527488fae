using DiffusionSharp.Distributed;

namespace DiffusionSharp.Cli;

/// <summary>
/// This process's place in an MPI job (<c>mpiexec -n N diffuse …</c>), read from the launcher's environment when
/// <c>diffuse</c> starts, without loading MPI. <c>train</c>, <c>sample</c> and <c>bench train</c> join the job
/// (<see cref="Join"/>) and share the work; any other command runs on rank 0 alone while the other ranks exit 0 at once.
/// Ranks other than 0 write no files and print nothing but errors (their standard output is discarded), and report
/// no error from before the ranks met: every rank read the same command line, so rank 0 says it once.
/// </summary>
internal static class DistributedJob
{
    private static IProcessGroup? s_group;

    /// <summary>The launch, or null without an MPI launcher.</summary>
    public static MpiLaunch? Launch { get; private set; }

    /// <summary>This process's rank (0 without a launcher).</summary>
    public static int Rank => Launch?.Rank ?? 0;

    /// <summary>The joined job, or null (alone, or not joined yet).</summary>
    public static IProcessGroup? Group => s_group;

    /// <summary>Reads the launcher's variables; an Open MPI launch is an error that only its rank 0 reports.</summary>
    public static void Detect()
    {
        try
        {
            Launch = MpiLaunch.FromEnvironment();
        }
        catch (InvalidInputException) when (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is { } rank && rank != "0")
        {
            throw new SilentFailure(DiffuseApp.BadInput);
        }
    }

    /// <summary>Whether <paramref name="args"/> name a command that shares its work over the ranks.</summary>
    public static bool Shares(string[] args) =>
        args.FirstOrDefault(a => !a.StartsWith('-')) is { } command
        && (command is "train" or "sample" || command == "bench" && args.SkipWhile(a => a != "bench").Skip(1).FirstOrDefault() == "train");

    /// <summary>Joins the job when there is one of more than one process (loading MPI); null when alone.</summary>
    /// <exception cref="InvalidInputException">No MPICH-ABI library.</exception>
    public static IProcessGroup? Join() =>
        Launch is { IsDistributed: true } launch ? s_group ??= ProcessGroups.FromEnvironment() ?? throw new InvalidOperationException("the launcher vanished") : null;

    /// <summary>The ranks on this host share its cores: <paramref name="requested"/> if given, else an equal share (alone: null, libtorch's default).</summary>
    public static int? Threads(int? requested)
    {
        if (requested is not null || Launch is not { IsDistributed: true } launch) return requested;
        int local = s_group?.LocalCount ?? launch.LocalSize ?? 1;
        return ProcessGroups.ThreadsPerProcess(Environment.ProcessorCount, local);
    }

    /// <summary>Whether an error of this process should be printed: rank 0's always, another rank's once the ranks have met.</summary>
    public static bool Reports => Rank == 0 || s_group is not null;

    /// <summary>
    /// Leaves the job: after success (or a stop all ranks agreed on) MPI is finalised; after a failure of this rank the
    /// whole job is aborted with its exit code, so the other ranks stop at once instead of waiting in a collective.
    /// </summary>
    public static void End(int exitCode)
    {
        if (Interlocked.Exchange(ref s_group, null) is not { } group) return;
        if (exitCode is DiffuseApp.Ok or DiffuseApp.Interrupted or StopSignals.TerminatedExitCode) group.Dispose();
        else
        {
            Console.Error.Flush();
            group.Abort(exitCode);
        }
    }

    /// <summary>A failure already reported elsewhere (by rank 0): exit with its code and print nothing.</summary>
    public sealed class SilentFailure(int exitCode) : Exception("reported by rank 0")
    {
        public int ExitCode { get; } = exitCode;
    }
}
