namespace DiffusionSharp.Data;

/// <summary>Statistics over every value of a dataset's samples.</summary>
public static class DatasetStatistics
{
    /// <summary>
    /// The standard deviation of every value of every sample (population form, in double precision), read through
    /// <see cref="IDataset.FillBatch"/> in chunks of 64 samples.
    /// </summary>
    /// <exception cref="ArgumentException">The dataset is empty.</exception>
    public static double StandardDeviation(IDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("the dataset is empty", nameof(data));
        const int chunk = 64;
        var samples = new float[chunk * data.SampleSize];
        var labels = new long[chunk];
        var indices = new int[chunk];
        double sum = 0, squares = 0;
        long count = 0;
        for (var start = 0; start < data.Count; start += chunk)
        {
            var n = Math.Min(chunk, data.Count - start);
            for (var i = 0; i < n; i++) indices[i] = start + i;
            var values = samples.AsSpan(0, n * data.SampleSize);
            data.FillBatch(indices.AsSpan(0, n), values, labels.AsSpan(0, n));
            foreach (var v in values)
            {
                sum += v;
                squares += (double)v * v;
            }
            count += values.Length;
        }
        var mean = sum / count;
        return Math.Sqrt(Math.Max(0, squares / count - mean * mean));
    }
}
