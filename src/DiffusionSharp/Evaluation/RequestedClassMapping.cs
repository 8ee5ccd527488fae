using DiffusionSharp.Data;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// How a classifier's classes answer for the classes samples were asked for. A model conditioned on the emoji's
/// <c>group</c> is scored by a classifier of their <c>subgroup</c>: every subgroup lies in one group, so a predicted
/// subgroup names a group. The mapping is read from the training data's <c>metadata.jsonl</c>.
/// </summary>
/// <param name="Column">The metadata column the requested labels come from (the classifier's own column when they are its classes).</param>
/// <param name="Map">For each classifier class, the requested-label value it implies (null: a class that maps to no value).</param>
public sealed record RequestedClassMapping(string Column, IReadOnlyList<string?> Map)
{
    /// <summary>
    /// The mapping from <paramref name="classifierClasses"/> (values of <paramref name="classifierColumn"/>) to the
    /// column of <paramref name="metadata"/> that holds every one of <paramref name="requested"/>: the classifier's
    /// column itself when the requested labels are its classes, else the first other column (in name order) that each
    /// classifier class determines (all rows with one class share one value there). Null when there is none.
    /// </summary>
    public static RequestedClassMapping? Find(IReadOnlyList<string> classifierClasses, string classifierColumn,
        IReadOnlyCollection<string> requested, ImageFolderMetadata? metadata)
    {
        ArgumentNullException.ThrowIfNull(classifierClasses);
        ArgumentNullException.ThrowIfNull(requested);
        if (requested.All(classifierClasses.Contains)) return new RequestedClassMapping(classifierColumn, classifierClasses.ToArray());
        if (metadata?.Column(classifierColumn) is not { } own) return null;
        foreach (var column in metadata.ColumnNames)
        {
            if (column is ImageFolderMetadata.FileNameColumn or ImageFolderMetadata.TextColumn || column == classifierColumn) continue;
            var values = metadata.Column(column)!;
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            var determined = true;
            for (var i = 0; i < own.Count && determined; i++)
            {
                if (own[i] is not { } key || values[i] is not { } value) continue;
                if (map.TryGetValue(key, out var seen)) determined = seen == value;
                else map[key] = value;
            }
            if (!determined) continue;
            var implied = map.Values.ToHashSet(StringComparer.Ordinal);
            if (!requested.All(implied.Contains)) continue;
            return new RequestedClassMapping(column, classifierClasses.Select(c => map.GetValueOrDefault(c)).ToArray());
        }
        return null;
    }

    /// <summary>The fraction of <paramref name="predicted"/> classifier classes whose mapped value is the requested label.</summary>
    public double Accuracy(IReadOnlyList<long> predicted, IReadOnlyList<string> requested)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(requested);
        if (predicted.Count != requested.Count || predicted.Count == 0)
            throw new ArgumentException($"expected one requested label per prediction ({predicted.Count}), found {requested.Count}", nameof(requested));
        var hits = 0;
        for (var i = 0; i < predicted.Count; i++)
            if (Map[(int)predicted[i]] == requested[i]) hits++;
        return (double)hits / predicted.Count;
    }
}
