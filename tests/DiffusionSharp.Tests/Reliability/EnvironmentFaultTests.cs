using System.Diagnostics;
using DiffusionSharp.Tests.Support;
using Xunit.Abstractions;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>
/// A full disk and a read-only output folder (small tmpfs mounts; these tests need root and only log when mount is not
/// permitted), and a data file deleted mid-run. Decision: file-system failures exit 2 with a one-line "file system: ..."
/// error, because the environment, not the program, is at fault; the previous checkpoint stays intact and no temporary
/// folder or file is left.
/// </summary>
[Collection(ChildProcessCollection.Name)]
public sealed class EnvironmentFaultTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly string _dir = TestPaths.NewTempDir();
    private readonly List<string> _mounts = [];

    public void Dispose()
    {
        foreach (var m in _mounts) Shell("umount", m);
        Directory.Delete(_dir, recursive: true);
    }

    private bool TryMountTmpfs(string folder, string options)
    {
        Directory.CreateDirectory(folder);
        if (Shell("mount", "-t", "tmpfs", "-o", options, "tmpfs", folder) != 0)
        {
            output.WriteLine($"mount -t tmpfs not permitted here; test not run (run as root)");
            return false;
        }
        _mounts.Add(folder);
        return true;
    }

    [Fact]
    public void Should_Exit2KeepingPreviousCheckpoint_When_DiskFillsUp()
    {
        var disk = Path.Combine(_dir, "disk");
        if (!TryMountTmpfs(disk, "size=16m")) return;
        var config = TinyRun.WriteConfig(_dir);
        var run = Path.Combine(disk, "run");
        using var p = DiffuseProcess.Start(_dir, TinyRun.NewRun(config, run, 49));
        while (TinyRun.Checkpoints(run).Count == 0 && !p.HasExited) Thread.Sleep(5);
        // Fill the disk: the next checkpoint cannot be written.
        using (var filler = new FileStream(Path.Combine(disk, "filler"), FileMode.Create))
        {
            var block = new byte[1 << 16];
            try { while (true) filler.Write(block); }
            catch (IOException) { }
        }
        var code = p.WaitForExit(Timeout);

        Assert.True(code == 2, $"exit code {code}; stderr: {p.Stderr}");
        Assert.Contains("diffuse: error: file system:", p.Stderr, StringComparison.Ordinal);
        Assert.Contains("No space left on device", p.Stderr, StringComparison.Ordinal);
        Assert.Single(p.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("diffuse: error", StringComparison.Ordinal));
        var checkpoints = TinyRun.Checkpoints(run);
        Assert.NotEmpty(checkpoints);
        TinyRun.AssertLoadsAndFinite(checkpoints[^1].Path);
        Assert.Empty(Directory.GetDirectories(Path.Combine(run, "training_state"), ".tmp-*"));

        // With space again, --resume continues from the intact checkpoint and cleans up.
        File.Delete(Path.Combine(disk, "filler"));
        var (resumed, stdout, stderr) = DiffuseProcess.Run(_dir, Timeout, TinyRun.Resume(run, checkpoints[^1].Step + 2));
        Assert.True(resumed == 0, $"resume exited {resumed}: {stderr}\n{stdout}");
        Assert.Empty(TinyRun.StrayTemporaries(run));
    }

    [Fact]
    public void Should_Exit2WritingNothing_When_OutputFolderIsReadOnly()
    {
        var disk = Path.Combine(_dir, "ro");
        if (!TryMountTmpfs(disk, "ro,size=1m")) return;
        var config = TinyRun.WriteConfig(_dir);
        var (code, _, stderr) = DiffuseProcess.Run(_dir, Timeout, TinyRun.NewRun(config, Path.Combine(disk, "run"), 4));

        Assert.True(code == 2, $"exit code {code}; stderr: {stderr}");
        Assert.Contains("Read-only file system", stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(disk));
    }

    [Fact]
    public void Should_FinishThenRefuseResumeNamingTheFile_When_DataFileDeletedMidRun()
    {
        // IDX data is read whole when training starts, so deleting the file mid-run does not disturb the run;
        // a later --resume must reopen it and fails with a one-line error, leaving the checkpoints intact.
        var data = Path.Combine(_dir, "digits-idx3-ubyte.gz");
        File.Copy(DiffusionSharp.Data.BundledData.MnistImagesPath, data);
        var config = TinyRun.WriteConfig(_dir);
        var run = Path.Combine(_dir, "run");
        var args = TinyRun.NewRun(config, run, 8).Select(a => a == "mnist" ? data : a).ToArray();
        using var p = DiffuseProcess.Start(_dir, args);
        Assert.True(p.WaitForStep(1, Timeout), p.Stderr);
        File.Delete(data);
        Assert.Equal(0, p.WaitForExit(Timeout));

        var (code, _, stderr) = DiffuseProcess.Run(_dir, Timeout, TinyRun.Resume(run, 12));
        Assert.True(code == 2, $"exit code {code}; stderr: {stderr}");
        Assert.Contains($"diffuse: error: --data: {data}", stderr, StringComparison.Ordinal);
        TinyRun.AssertLoadsAndFinite(TinyRun.Checkpoints(run)[^1].Path);
        Assert.Equal(8, TinyRun.Checkpoints(run)[^1].Step);
    }

    private static int Shell(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        p.WaitForExit();
        return p.ExitCode;
    }
}
