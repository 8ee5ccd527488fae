namespace DiffusionSharp.Tests.Distributed;

/// <summary>
/// A test that launches <c>mpiexec.mpich</c>: skipped, with the reason, only when MPICH is not installed here
/// (CI installs it: .ci/run runs <c>apt-get install mpich</c>).
/// </summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (MpiLauncher.Path is null) Skip = "MPICH is not installed (no mpiexec.mpich on PATH; apt-get install mpich)";
    }
}

/// <summary>Where MPICH's launcher is.</summary>
public static class MpiLauncher
{
    public static string? Path { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => System.IO.Path.Combine(dir, "mpiexec.mpich"))
        .FirstOrDefault(File.Exists);

    /// <summary><c>mpiexec.mpich -n N</c>.</summary>
    public static string[] Ranks(int n) => [Path ?? "mpiexec.mpich", "-n", n.ToString(System.Globalization.CultureInfo.InvariantCulture)];
}
