using System.Globalization;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// Which classes a sampling run draws, from the text a user gives: none (unconditional), one class for every image
/// (<c>"3"</c>, or a class name recorded in the run's <see cref="ClassNamesFile"/>, e.g. <c>"Smileys &amp; Emotion"</c>), or every class in turn (<c>"all"</c>: ⌊count / classes⌋ images of each, one grid row per class), or a comma-separated
/// list of classes (numbers or names: ⌊count / listed⌋ images of each, one grid row per listed class).
/// <c>diffuse sample --class</c> and the studio's Generate page read it the same way, so the same options give the same images.
/// </summary>
public static class SampleClasses
{
    /// <summary>The spelling of "one row per class".</summary>
    public const string All = "all";

    /// <summary>The labels, the image count and the images per grid row of a run.</summary>
    /// <param name="classSpec">null (no class), a class number, a class name from <paramref name="classNames"/>, <see cref="All"/>, or a list of classes separated by <see cref="ListSeparator"/>.</param>
    /// <param name="count">The images asked for (with <see cref="All"/>: at least one per class is drawn).</param>
    /// <param name="numClasses">The model's real classes (<see cref="DiffusionPipeline.NumClasses"/>); 0 when unconditional.</param>
    /// <param name="guidance">The guidance scale; other than 1 it needs a class.</param>
    /// <param name="nrow">The images per grid row asked for, or null; with <see cref="All"/> it is the images per class.</param>
    /// <param name="classNames">The name of each class (label i = entry i), or null when the model's classes have no recorded names.</param>
    /// <returns>One label per image (null without a class), the number of images, the images per grid row (null = default).</returns>
    /// <exception cref="InvalidInputException">Guidance without a class, a class for an unconditional model, or a class that is not one of the model's.</exception>
    public static (long[]? Labels, int Count, int? Nrow) Resolve(string? classSpec, int count, int numClasses, double guidance, int? nrow = null,
        IReadOnlyList<string>? classNames = null)
    {
        const string condition = DiffusionPipeline.ConditionProperty;
        if (classSpec is null)
        {
            if (guidance != 1.0)
                throw new InvalidInputException("guidance needs condition (guidance steers towards a class)", DiffusionPipeline.GuidanceProperty, condition);
            return (null, count, nrow);
        }
        if (numClasses == 0) throw new InvalidInputException("condition: this model is unconditional (its config.json has no num_class_embeds)", condition);
        if (classSpec == All)
        {
            int perClass = Math.Max(1, count / numClasses);
            var all = Enumerable.Range(0, numClasses).SelectMany(c => Enumerable.Repeat((long)c, perClass)).ToArray();
            return (all, all.Length, perClass);
        }
        if (classSpec.Contains(ListSeparator) && ParseLabel(classSpec, classNames) is null)
        {
            // A list, one grid row per listed class: "heart,animal-mammal,country-flag" (a name that itself holds a comma
            // is still taken whole above).
            var listed = classSpec.Split(ListSeparator, StringSplitOptions.TrimEntries)
                .Select(part => Label(part, numClasses, classNames)).ToArray();
            int perClass = Math.Max(1, count / listed.Length);
            var rows = listed.SelectMany(c => Enumerable.Repeat((long)c, perClass)).ToArray();
            return (rows, rows.Length, perClass);
        }
        int label = Label(classSpec, numClasses, classNames);
        return (Enumerable.Repeat((long)label, count).ToArray(), count, nrow);
    }

    /// <summary>What separates the classes of a list (<c>"3,5,7"</c>: one grid row per listed class).</summary>
    public const char ListSeparator = ',';

    /// <summary>One class, by its number or its recorded name, checked against the model's classes.</summary>
    private static int Label(string spec, int numClasses, IReadOnlyList<string>? classNames)
    {
        const string condition = DiffusionPipeline.ConditionProperty;
        int label = ParseLabel(spec, classNames) ?? throw new InvalidInputException(classNames is { Count: > 0 }
            ? $"condition: '{spec}' is not a class number, '{All}', a comma-separated list or one of this model's classes ({string.Join(", ", classNames.Select(n => $"'{n}'"))})"
            : $"condition: '{spec}' is not a class number, '{All}' or a comma-separated list of numbers (this model records no class names)", condition);
        if (label >= numClasses)
            throw new InvalidInputException($"condition: {label} is out of range; this model knows classes 0..{numClasses - 1}", condition);
        return label;
    }

    private static int? ParseLabel(string spec, IReadOnlyList<string>? classNames) =>
        int.TryParse(spec, NumberStyles.None, CultureInfo.InvariantCulture, out int label) ? label : IndexOfName(spec, classNames);

    /// <summary>The index of <paramref name="name"/> among <paramref name="classNames"/>: an exact match first, then one ignoring case if it is the only one.</summary>
    private static int? IndexOfName(string name, IReadOnlyList<string>? classNames)
    {
        if (classNames is null) return null;
        for (int i = 0; i < classNames.Count; i++)
            if (string.Equals(classNames[i], name, StringComparison.Ordinal)) return i;
        var loose = Enumerable.Range(0, classNames.Count).Where(i => string.Equals(classNames[i], name, StringComparison.OrdinalIgnoreCase)).ToArray();
        return loose.Length == 1 ? loose[0] : null;
    }
}
