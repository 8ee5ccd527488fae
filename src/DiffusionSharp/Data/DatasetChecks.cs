namespace DiffusionSharp.Data;

/// <summary>Argument checks shared by the <see cref="IDataset"/> implementations.</summary>
internal static class DatasetChecks
{
    public static void CheckBatch(IDataset dataset, ReadOnlySpan<int> indices, Span<float> images, Span<long> labels)
    {
        var need = (long)indices.Length * dataset.SampleSize;
        if (images.Length < need)
            throw new ArgumentException($"expected at least {need} floats for {indices.Length} samples, found {images.Length}", nameof(images));
        if (dataset.HasLabels && labels.Length < indices.Length)
            throw new ArgumentException($"expected at least {indices.Length} labels, found {labels.Length}", nameof(labels));
        foreach (var i in indices)
        {
            if ((uint)i >= (uint)dataset.Count)
                throw new ArgumentOutOfRangeException(nameof(indices), i, $"index outside [0, {dataset.Count})");
        }
    }

    public static string[] NumberedClassNames(int count)
    {
        var names = new string[count];
        for (var i = 0; i < count; i++) names[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return names;
    }
}
