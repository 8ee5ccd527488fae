using DiffusionSharp.Build;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Build;

public sealed class PatchCommandTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteLibrary(string name = "lib.so")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, TinyElf.Build(PatchCommand.Library, ("GLIBCXX_3.4.19", 0), (PatchCommand.Version, 0)));
        return path;
    }

    private static (int Code, string Out, string Err) Run(Func<(bool, string?)> system, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = PatchCommand.Run(args, stdout, stderr, system);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static bool IsWeak(string path) =>
        new ElfFile(File.ReadAllBytes(path), path).VersionNeeds().Single(n => n.Version == PatchCommand.Version).IsWeak;

    [Fact]
    public void Should_leave_the_file_untouched_when_this_machines_libstdcxx_defines_the_version()
    {
        // Given a machine whose libstdc++ has GLIBCXX_3.4.32
        var path = WriteLibrary();
        var before = File.ReadAllBytes(path);

        // When the build step runs without --force
        var (code, output, error) = Run(() => (true, "/usr/lib/libstdc++.so.6"), path);

        // Then it is a no-op that says so
        Assert.Equal(0, code);
        Assert.Contains("nothing to do", output);
        Assert.Equal("", error);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void Should_patch_with_force_without_asking_the_system_library()
    {
        // Given a machine whose libstdc++ has the version (as the machines a tool package is installed on may not)
        var path = WriteLibrary();

        // When the tool-package step runs with --force
        var (code, output, _) = Run(() => throw new InvalidOperationException("--force must not look at the system library"), "--force", path);

        // Then the requirement is weak all the same
        Assert.Equal(0, code);
        Assert.Contains("marked weak", output);
        Assert.True(IsWeak(path));
    }

    [Fact]
    public void Should_patch_when_this_machines_libstdcxx_lacks_the_version()
    {
        var path = WriteLibrary();
        var (code, _, _) = Run(() => (false, "/usr/lib/libstdc++.so.6"), path);
        Assert.Equal(0, code);
        Assert.True(IsWeak(path));
    }

    [Theory]
    [InlineData("not-elf")]
    [InlineData("missing")]
    public void Should_report_a_file_it_cannot_patch_in_one_line_with_exit_code_2(string kind)
    {
        var path = Path.Combine(_dir, kind + ".so");
        if (kind == "not-elf") File.WriteAllText(path, "#!/bin/sh\n" + new string(' ', 100));
        var (code, _, error) = Run(() => (false, null), path);
        Assert.Equal(2, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ds-elfpatch: error: ", line);
        Assert.Contains(path, line);
    }

    [Fact]
    public void Should_report_an_unreadable_system_library_in_one_line()
    {
        var path = WriteLibrary();
        var (code, _, error) = Run(() => throw new InvalidDataException("/usr/lib/libstdc++.so.6: not an ELF file (bad magic)"), path);
        Assert.Equal(2, code);
        Assert.Equal("ds-elfpatch: error: /usr/lib/libstdc++.so.6: not an ELF file (bad magic)", error.Trim());
    }

    [Theory]
    [InlineData]
    [InlineData("--frce", "lib.so")]
    public void Should_refuse_bad_usage_with_exit_code_2(params string[] args)
    {
        var (code, _, error) = Run(() => (false, null), args);
        Assert.Equal(2, code);
        Assert.Contains("usage: ds-elfpatch", Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }
}
