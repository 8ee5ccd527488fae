using static TorchSharp.torch;

namespace DiffusionSharp.Data;

/// <summary>Generated time series: from a batch of samples to values in the data's units, and to a CSV file.</summary>
public static class SeriesBatch
{
    /// <summary>
    /// The saved <see cref="SeriesNormalization"/> of the run in <paramref name="folder"/> (its <c>normalization.json</c>), or null
    /// when the folder has none (the model was not trained on time series).
    /// </summary>
    /// <exception cref="InvalidInputException">The file exists but is not a normalisation file.</exception>
    public static SeriesNormalization? FindNormalization(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var path = Path.Combine(folder, SeriesNormalization.FileName);
        return File.Exists(path) ? SeriesNormalization.Load(path) : null;
    }

    /// <summary>
    /// The first channel of each sample, clipped to [-1, 1] (the normalised data's range) and mapped back to the data's units with
    /// <paramref name="normalization"/>'s global transform (a generated series belongs to no one row); unchanged when it is null.
    /// </summary>
    /// <param name="samples">[N, C, L] float, any device.</param>
    /// <param name="normalization">The run's normalisation, or null.</param>
    public static float[][] Values(Tensor samples, SeriesNormalization? normalization)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.dim() != 3) throw new ArgumentException($"expected samples [N, C, L], got [{string.Join(", ", samples.shape)}]", nameof(samples));
        var (count, length) = ((int)samples.shape[0], (int)samples.shape[2]);
        float[] values;
        using (NewDisposeScope()) values = samples.detach().select(1, 0).to(ScalarType.Float32, CPU).clamp(-1, 1).contiguous().data<float>().ToArray();
        var result = new float[count][];
        for (var i = 0; i < count; i++)
        {
            result[i] = values.AsSpan(i * length, length).ToArray();
            normalization?.Undo(result[i]);
        }
        return result;
    }

    /// <summary>Writes <see cref="Values"/> as CSV, one series per row, atomically.</summary>
    /// <returns>The series written.</returns>
    public static float[][] SaveCsv(Tensor samples, string path, SeriesNormalization? normalization)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var series = Values(samples, normalization);
        var folder = System.IO.Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        TimeSeriesDataset.WriteCsv(path, series);
        return series;
    }
}
