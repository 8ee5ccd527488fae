using DiffusionSharp.Build;

// ds-elfpatch <libLibTorchSharp.so>...
// For each file: if the system libstdc++ lacks GLIBCXX_3.4.32, mark that requirement weak. Exit 2 on a file it refuses.
const string Library = "libstdc++.so.6";
const string Version = "GLIBCXX_3.4.32";

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: ds-elfpatch [--force] <file.so>...");
    return 2;
}
bool force = args.Contains("--force");
var files = args.Where(a => a != "--force").ToList();
if (!force && VersionWeakener.SystemLibraryDefines(Library, Version, out var found))
{
    Console.WriteLine($"ds-elfpatch: {found} defines {Version}; nothing to do");
    return 0;
}
foreach (var file in files)
{
    try
    {
        var outcome = VersionWeakener.Weaken(file, Library, Version);
        Console.WriteLine($"ds-elfpatch: {file}: {outcome switch
        {
            WeakenOutcome.Patched => $"{Version} requirement marked weak",
            WeakenOutcome.AlreadyWeak => $"{Version} requirement already weak",
            _ => $"does not need {Version}",
        }}");
    }
    catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"ds-elfpatch: error: {e.Message}");
        return 2;
    }
}
return 0;
