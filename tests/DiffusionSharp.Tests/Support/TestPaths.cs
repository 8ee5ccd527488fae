namespace DiffusionSharp.Tests.Support;

/// <summary>Locates the repository root and the shared reference folder (../shared beside the repo) from the test binaries.</summary>
public static class TestPaths
{
    /// <summary>The folder that holds DiffusionSharp.slnx.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared beside the repository root (golden data, MNIST); CI lays it there too.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>../shared/golden/visible.</summary>
    public static string Golden => Path.Combine(Shared, "golden", "visible");

    /// <summary>A fresh empty folder under the system temp folder; the caller deletes it.</summary>
    public static string NewTempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "diffusionsharp-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DiffusionSharp.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException("DiffusionSharp.slnx not found above " + AppContext.BaseDirectory);
    }
}
