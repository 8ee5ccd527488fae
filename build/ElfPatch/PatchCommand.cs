namespace DiffusionSharp.Build;

/// <summary>
/// The <c>ds-elfpatch [--force] file.so...</c> command line: for each file, mark its libstdc++ GLIBCXX_3.4.32
/// requirement weak, unless this machine's libstdc++ defines that version (then nothing is needed and nothing is
/// touched). <c>--force</c> skips that check, for a file that will be used on other machines (a tool package).
/// Exit 0 on success, 2 on bad usage or a file it refuses, 1 on anything else; every failure is one line on stderr.
/// </summary>
public static class PatchCommand
{
    public const string Library = "libstdc++.so.6";
    public const string Version = "GLIBCXX_3.4.32";
    public const string ForceOption = "--force";
    public const string Usage = "usage: ds-elfpatch [--force] <file.so>...";

    /// <param name="args">The command line.</param>
    /// <param name="stdout">Where progress lines go.</param>
    /// <param name="stderr">Where the one error line goes.</param>
    /// <param name="systemLibraryDefinesVersion">
    /// Whether this machine's libstdc++ defines <see cref="Version"/>, and where it was found; not asked with <c>--force</c>.
    /// </param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, Func<(bool Defines, string? FoundAt)> systemLibraryDefinesVersion)
    {
        ArgumentNullException.ThrowIfNull(args);
        bool force = args.Contains(ForceOption);
        var files = args.Where(a => a != ForceOption).ToList();
        var unknown = files.FirstOrDefault(f => f.StartsWith('-'));
        if (files.Count == 0 || unknown is not null)
        {
            stderr.WriteLine(unknown is null ? Usage : $"ds-elfpatch: error: unknown option '{unknown}' ({Usage})");
            return 2;
        }
        string current = Library;
        try
        {
            if (!force)
            {
                var (defines, foundAt) = systemLibraryDefinesVersion();
                if (defines)
                {
                    stdout.WriteLine($"ds-elfpatch: {foundAt} defines {Version}; nothing to do");
                    return 0;
                }
            }
            foreach (var file in files)
            {
                current = file;
                var outcome = VersionWeakener.Weaken(file, Library, Version);
                stdout.WriteLine($"ds-elfpatch: {file}: {outcome switch
                {
                    WeakenOutcome.Patched => $"{Version} requirement marked weak",
                    WeakenOutcome.AlreadyWeak => $"{Version} requirement already weak",
                    _ => $"does not need {Version}",
                }}");
            }
            return 0;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"ds-elfpatch: error: {OneLine(e.Message)}");
            return 2;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"ds-elfpatch: error: {current}: {e.GetType().Name}: {OneLine(e.Message)}");
            return 1;
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
