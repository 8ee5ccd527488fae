namespace DiffusionSharp.Evaluation;

/// <summary>
/// Finds the MNIST classifier shipped with DiffusionSharp (<c>models/mnist-classifier</c>) at run time: first beside the
/// application (where the CLI build copies it), then in each parent folder of the application (a repository checkout).
/// </summary>
public static class ShippedClassifier
{
    /// <summary>The folder's path relative to the application or repository root.</summary>
    public static readonly string RelativeDirectory = Path.Combine("models", "mnist-classifier");

    private static readonly Lazy<string?> Found = new(() => FindDirectory(AppContext.BaseDirectory));

    /// <summary>The folder holding the shipped classifier's config and weights.</summary>
    /// <exception cref="InvalidInputException">No <c>models/mnist-classifier</c> beside or above the application.</exception>
    public static string Directory => Found.Value
        ?? throw new InvalidInputException(
            $"shipped classifier not found: expected {RelativeDirectory}/{DigitClassifier.WeightsFileName} beside or above {AppContext.BaseDirectory}");

    /// <summary>
    /// The first <c>models/mnist-classifier</c> holding both files, looking in <paramref name="startDirectory"/> and then
    /// each of its parents; null when there is none.
    /// </summary>
    public static string? FindDirectory(string startDirectory)
    {
        ArgumentNullException.ThrowIfNull(startDirectory);
        for (var dir = new DirectoryInfo(Path.GetFullPath(startDirectory)); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, RelativeDirectory);
            if (File.Exists(Path.Combine(candidate, DigitClassifier.WeightsFileName))
                && File.Exists(Path.Combine(candidate, DigitClassifier.ConfigFileName)))
                return candidate;
        }
        return null;
    }

    /// <summary>Loads the shipped classifier (eval mode, CPU).</summary>
    public static DigitClassifier Load() => DigitClassifier.Load(Directory);
}
