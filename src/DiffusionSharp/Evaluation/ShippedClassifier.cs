namespace DiffusionSharp.Evaluation;

/// <summary>
/// Finds the classifiers shipped with DiffusionSharp (<c>models/mnist-classifier</c>, <c>models/spoken-digit-classifier</c>)
/// at run time: first beside the application (where the CLI build copies them), then in each parent folder of the
/// application (a repository checkout).
/// </summary>
public static class ShippedClassifier
{
    /// <summary>The folder's path relative to the application or repository root.</summary>
    public static readonly string RelativeDirectory = Path.Combine("models", "mnist-classifier");

    /// <summary>The spoken-digit classifier's folder relative to the application or repository root.</summary>
    public static readonly string SpokenDigitRelativeDirectory = Path.Combine("models", "spoken-digit-classifier");

    private static readonly Lazy<string?> Found = new(() => FindDirectory(AppContext.BaseDirectory));

    private static readonly Lazy<string?> FoundSpokenDigit = new(() => FindDirectory(AppContext.BaseDirectory, SpokenDigitRelativeDirectory));

    /// <summary>The folder holding the shipped spoken-digit classifier (<see cref="SpokenDigitClassifier"/>).</summary>
    /// <exception cref="InvalidInputException">No <c>models/spoken-digit-classifier</c> beside or above the application.</exception>
    public static string SpokenDigitDirectory => FoundSpokenDigit.Value
        ?? throw new InvalidInputException(
            $"shipped spoken-digit classifier not found: expected {SpokenDigitRelativeDirectory}/{ClassifierFolder.WeightsFileName} beside or above {AppContext.BaseDirectory}");

    /// <summary>The folder holding the shipped classifier's config and weights.</summary>
    /// <exception cref="InvalidInputException">No <c>models/mnist-classifier</c> beside or above the application.</exception>
    public static string Directory => Found.Value
        ?? throw new InvalidInputException(
            $"shipped classifier not found: expected {RelativeDirectory}/{DigitClassifier.WeightsFileName} beside or above {AppContext.BaseDirectory}");

    /// <summary>
    /// The first <c>models/mnist-classifier</c> holding both files, looking in <paramref name="startDirectory"/> and then
    /// each of its parents; null when there is none.
    /// </summary>
    public static string? FindDirectory(string startDirectory) => FindDirectory(startDirectory, RelativeDirectory);

    /// <summary>The first <paramref name="relativeDirectory"/> holding a classifier's config and weights, in <paramref name="startDirectory"/> or a parent; null when none.</summary>
    public static string? FindDirectory(string startDirectory, string relativeDirectory)
    {
        ArgumentNullException.ThrowIfNull(startDirectory);
        ArgumentNullException.ThrowIfNull(relativeDirectory);
        for (var dir = new DirectoryInfo(Path.GetFullPath(startDirectory)); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relativeDirectory);
            if (File.Exists(Path.Combine(candidate, DigitClassifier.WeightsFileName))
                && File.Exists(Path.Combine(candidate, DigitClassifier.ConfigFileName)))
                return candidate;
        }
        return null;
    }

    /// <summary>Loads the shipped classifier (eval mode, CPU).</summary>
    public static DigitClassifier Load() => DigitClassifier.Load(Directory);
}
