namespace DiffusionSharp.Cli;

/// <summary>Checks on output paths, done before any work so a bad path fails fast with the option's name.</summary>
internal static class CliFiles
{
    /// <summary>The parent folder of <paramref name="path"/> must exist (or be creatable) and <paramref name="path"/> must not be a folder.</summary>
    public static void CheckWritable(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new InvalidInputException($"{option}: empty path");
        if (Directory.Exists(path)) throw new InvalidInputException($"{option}: {path} is a folder; give a file name");
        var parent = Path.GetDirectoryName(Path.GetFullPath(path));
        if (parent is null) return;
        try
        {
            Directory.CreateDirectory(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"{option}: cannot create the folder {parent} ({e.Message})");
        }
    }

    /// <summary>The input file must exist.</summary>
    public static void CheckExists(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new InvalidInputException($"{option}: empty path");
        if (!File.Exists(path)) throw new InvalidInputException($"{option}: {path} does not exist");
    }
}
