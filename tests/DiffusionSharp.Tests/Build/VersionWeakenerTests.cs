using DiffusionSharp.Build;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Build;

public sealed class VersionWeakenerTests : IDisposable
{
    private const string Lib = "libstdc++.so.6";
    private const string Wanted = "GLIBCXX_3.4.32";
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(byte[] bytes, string name = "lib.so")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Should_mark_only_the_wanted_requirement_weak_and_change_nothing_else()
    {
        // Given a library needing three libstdc++ versions
        var original = TinyElf.Build(Lib, ("GLIBCXX_3.4.19", 0), (Wanted, 0), ("CXXABI_1.3.5", 0));
        var path = Write(original);

        // When it is patched
        Assert.Equal(WeakenOutcome.Patched, VersionWeakener.Weaken(path, Lib, Wanted));

        // Then exactly one byte changed: the low byte of that entry's vna_flags gained VER_FLG_WEAK
        var patched = File.ReadAllBytes(path);
        var diffs = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        Assert.Single(diffs);
        Assert.Equal(original[diffs[0]] | 0x2, patched[diffs[0]]);
        var needs = new ElfFile(patched, path).VersionNeeds();
        Assert.True(needs.Single(n => n.Version == Wanted).IsWeak);
        Assert.All(needs.Where(n => n.Version != Wanted), n => Assert.False(n.IsWeak));
        Assert.False(File.Exists(path + ".weaken-tmp"));
    }

    [Fact]
    public void Should_be_idempotent()
    {
        var path = Write(TinyElf.Build(Lib, (Wanted, 0)));
        Assert.Equal(WeakenOutcome.Patched, VersionWeakener.Weaken(path, Lib, Wanted));
        var once = File.ReadAllBytes(path);
        var stamp = File.GetLastWriteTimeUtc(path);
        Assert.Equal(WeakenOutcome.AlreadyWeak, VersionWeakener.Weaken(path, Lib, Wanted));
        Assert.Equal(once, File.ReadAllBytes(path));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public void Should_leave_a_library_alone_that_does_not_need_the_version()
    {
        var original = TinyElf.Build(Lib, ("GLIBCXX_3.4.19", 0));
        var path = Write(original);
        Assert.Equal(WeakenOutcome.NotNeeded, VersionWeakener.Weaken(path, Lib, Wanted));
        Assert.Equal(original, File.ReadAllBytes(path));
    }

    [Fact]
    public void Should_refuse_a_file_that_is_not_elf()
    {
        var path = Write("#!/bin/sh\necho not a library\n"u8.ToArray().Concat(new byte[100]).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => VersionWeakener.Weaken(path, Lib, Wanted));
        Assert.Contains(path, e.Message);
        Assert.Contains("magic", e.Message);
    }

    [Fact]
    public void Should_refuse_a_truncated_file_without_writing()
    {
        var full = TinyElf.Build(Lib, (Wanted, 0));
        var cut = full[..(full.Length - 70)];
        var path = Write(cut);
        Assert.Throws<InvalidDataException>(() => VersionWeakener.Weaken(path, Lib, Wanted));
        Assert.Equal(cut, File.ReadAllBytes(path));
    }

    [Fact]
    public void Should_refuse_an_entry_whose_hash_does_not_match_its_name()
    {
        var bytes = TinyElf.Build(Lib, (Wanted, 0));
        var elf = new ElfFile(bytes, "x");
        long flags = elf.VersionNeeds().Single().FlagsOffset;
        bytes[flags - 4] ^= 0x55; // vna_hash sits 4 bytes before vna_flags
        var path = Write(bytes);
        var e = Assert.Throws<InvalidDataException>(() => VersionWeakener.Weaken(path, Lib, Wanted));
        Assert.Contains("hash", e.Message);
    }

    [Fact]
    public void Should_compute_the_system_v_elf_hash()
    {
        Assert.Equal(0u, ElfFile.ElfHash(""));
        Assert.Equal(0x61u, ElfFile.ElfHash("a"));
        Assert.Equal(0x672u, ElfFile.ElfHash("ab")); // (0x61 << 4) + 0x62
        // Long names fold the high nibble back in; the real-library test checks every stored hash against ours.
    }

    [Fact]
    public void Should_patch_a_copy_of_the_real_torchsharp_library_and_not_the_nuget_cache()
    {
        var cache = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(cache), $"TorchSharp's native library not found at {cache}");
        var before = File.ReadAllBytes(cache);
        var path = Write(before, "libLibTorchSharp.so");

        Assert.Equal(WeakenOutcome.Patched, VersionWeakener.Weaken(path, Lib, Wanted));

        Assert.Equal(before, File.ReadAllBytes(cache));
        Assert.True(new ElfFile(File.ReadAllBytes(path), path).VersionNeeds().Single(n => n.Version == Wanted).IsWeak);
        Assert.Equal(1, before.Zip(File.ReadAllBytes(path)).Count(p => p.First != p.Second));
        var needs = new ElfFile(before, cache).VersionNeeds();
        Assert.True(needs.Count > 10, "libLibTorchSharp.so needs many versions");
        Assert.All(needs, n => Assert.Equal(ElfFile.ElfHash(n.Version), n.Hash));
    }

    [Fact]
    public void Should_find_the_versions_this_machines_libstdcxx_defines()
    {
        bool defines = VersionWeakener.SystemLibraryDefines(Lib, "GLIBCXX_3.4.30", out var found);
        Assert.NotNull(found);
        Assert.True(defines, $"{found} should define GLIBCXX_3.4.30 (Debian 12's libstdc++ does)");
        Assert.False(VersionWeakener.SystemLibraryDefines(Lib, "GLIBCXX_9.9.99", out _));
    }
}
