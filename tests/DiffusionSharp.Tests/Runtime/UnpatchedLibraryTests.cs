using DiffusionSharp.Build;
using DiffusionSharp.Tests.Reliability;

namespace DiffusionSharp.Tests.Runtime;

/// <summary>
/// An application folder whose libLibTorchSharp.so is the NuGet cache's unpatched copy: on a system whose libstdc++
/// lacks GLIBCXX_3.4.32 (Debian 12), every command must stop with one line naming the file and the cause, and must not
/// let TorchSharp's fallback copy the libtorch binaries beside the application; elsewhere the copy simply loads.
/// </summary>
[Collection(ChildProcessCollection.Name)]
public sealed class UnpatchedLibraryTests : IDisposable
{
    private const string Library = "libLibTorchSharp.so";
    private readonly string _app = Directory.CreateTempSubdirectory("ds-unpatched-").FullName;

    [Fact]
    public void Should_name_the_unpatched_library_and_the_missing_glibcxx_version_in_one_line()
    {
        string native = Path.Combine("runtimes", "linux-x64", "native");
        ShadowApplicationFolder(AppContext.BaseDirectory, _app, native);
        File.Copy(CachedLibrary(), Path.Combine(_app, native, Library));

        var (code, _, stderr) = DiffuseProcess.RunApp(Path.Combine(_app, "diffuse.dll"), _app, TimeSpan.FromMinutes(2), "model", "info", "--model", "mnist-nano");

        if (VersionWeakener.SystemLibraryDefines("libstdc++.so.6", "GLIBCXX_3.4.32", out _))
        {
            Assert.Equal(0, code);
            return;
        }
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("diffuse: error: TorchSharp's native library ", line);
        Assert.Contains(Path.Combine(_app, native, Library), line);
        Assert.Contains("GLIBCXX_3.4.32 not found", line);
        Assert.False(Directory.Exists(Path.Combine(_app, "cpu")), "TorchSharp's fallback copied libtorch beside the application");
    }

    /// <summary>
    /// Mirrors <paramref name="source"/> into <paramref name="target"/>: the top-level files (11 MB) as copies, since the
    /// .NET host resolves a linked application to its real folder; the rest with symbolic links (libtorch is 460 MB),
    /// leaving out <see cref="Library"/> in <paramref name="nativeDir"/> so the test can put another copy there.
    /// </summary>
    private static void ShadowApplicationFolder(string source, string target, string nativeDir)
    {
        foreach (var file in Directory.EnumerateFiles(source))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        foreach (var dir in Directory.EnumerateDirectories(source))
            if (Path.GetFileName(dir) != "runtimes") Directory.CreateSymbolicLink(Path.Combine(target, Path.GetFileName(dir)), dir);
        Directory.CreateDirectory(Path.Combine(target, nativeDir));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(source, nativeDir)))
            if (Path.GetFileName(file) != Library)
                File.CreateSymbolicLink(Path.Combine(target, nativeDir, Path.GetFileName(file)), file);
    }

    private static string CachedLibrary()
    {
        var path = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", Library);
        Assert.True(File.Exists(path), $"TorchSharp's native library not found at {path}");
        return path;
    }

    public void Dispose() => Directory.Delete(_app, recursive: true);
}
