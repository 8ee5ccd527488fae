namespace DiffusionSharp.Build;

/// <summary>What <see cref="VersionWeakener.Weaken"/> did to a file.</summary>
public enum WeakenOutcome
{
    /// <summary>The requirement was strong and is now weak; the file was rewritten.</summary>
    Patched,
    /// <summary>The requirement was already weak; the file was left untouched.</summary>
    AlreadyWeak,
    /// <summary>The file does not need that version at all; left untouched.</summary>
    NotNeeded,
}

/// <summary>
/// Marks one version requirement of an ELF shared library as weak (VER_FLG_WEAK), so that the dynamic loader
/// accepts a system library that lacks that version. Used on TorchSharp's libLibTorchSharp.so, which asks for
/// GLIBCXX_3.4.32 only for a symbol that no relocation uses.
/// </summary>
public static class VersionWeakener
{
    public static WeakenOutcome Weaken(string path, string library, string version)
    {
        var elf = new ElfFile(File.ReadAllBytes(path), path);
        var matches = elf.VersionNeeds().Where(n => n.File == library && n.Version == version).ToList();
        if (matches.Count == 0) return WeakenOutcome.NotNeeded;
        if (matches.Count > 1) throw new InvalidDataException($"{path}: {library} {version} is required {matches.Count} times; expected once");
        var need = matches[0];
        if (need.Hash != ElfFile.ElfHash(version))
            throw new InvalidDataException($"{path}: the hash stored for {version} is 0x{need.Hash:x}, expected 0x{ElfFile.ElfHash(version):x}; refusing to edit");
        if ((need.Flags & ~ElfFile.VerFlgWeak) != 0)
            throw new InvalidDataException($"{path}: {version} has unexpected flags 0x{need.Flags:x}; refusing to edit");
        if (need.IsWeak) return WeakenOutcome.AlreadyWeak;

        elf.SetWeak(need.FlagsOffset);
        var check = new ElfFile(elf.Bytes, path).VersionNeeds().Single(n => n.File == library && n.Version == version);
        if (!check.IsWeak) throw new InvalidOperationException($"{path}: the edit did not take");

        // Write beside the original and rename over it: never a half-written library, and a hard link
        // (for instance into the NuGet cache) is replaced rather than edited through.
        string temp = path + ".weaken-tmp";
        using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            fs.Write(elf.Bytes);
            fs.Flush(flushToDisk: true);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
        File.Move(temp, path, overwrite: true);
        return WeakenOutcome.Patched;
    }

    /// <summary>
    /// Whether the libstdc++ this machine's loader would pick defines <paramref name="version"/>; false when none is found.
    /// </summary>
    public static bool SystemLibraryDefines(string soname, string version, out string? foundAt)
    {
        foundAt = FindSystemLibrary(soname);
        if (foundAt is null) return false;
        var elf = new ElfFile(File.ReadAllBytes(foundAt), foundAt);
        return elf.DefinedVersions().Contains(version);
    }

    private static string? FindSystemLibrary(string soname)
    {
        string[] dirs =
        [
            "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
            "/usr/local/lib", "/usr/local/lib64",
        ];
        var ldPath = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH")?.Split(':', StringSplitOptions.RemoveEmptyEntries) ?? [];
        foreach (var dir in ldPath.Concat(dirs))
        {
            var candidate = Path.Combine(dir, soname);
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }
}
