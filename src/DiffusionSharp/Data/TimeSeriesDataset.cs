using System.Globalization;
using System.Text;
using DiffusionSharp.IO;
using nietras.SeparatedValues;

namespace DiffusionSharp.Data;

/// <summary>
/// Numeric time series from a CSV file as a dataset of <c>[1, L]</c> samples, each series min-max normalised to [-1, 1] on its own
/// (<see cref="Normalization"/>, to be saved in the run folder and undone on output). Every series must have the same length L:
/// a ragged row or column, or a cell that is not a finite number, is an error naming <c>file:line</c> and the column.
/// </summary>
public sealed class TimeSeriesDataset : IDataset
{
    private readonly float[] _values;

    private TimeSeriesDataset(string path, float[] values, int count, int length, SeriesNormalization normalization)
    {
        Path = path;
        _values = values;
        Count = count;
        SampleShape = [1, length];
        Normalization = normalization;
    }

    /// <summary>The CSV file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public int Count { get; }

    /// <summary><c>[1, L]</c>.</summary>
    public IReadOnlyList<int> SampleShape { get; }

    /// <summary>0: series carry no labels.</summary>
    public int NumClasses => 0;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => [];

    /// <summary>The per-series transforms that made the values span [-1, 1].</summary>
    public SeriesNormalization Normalization { get; }

    /// <summary>Reads a CSV file of series.</summary>
    /// <param name="path">The file.</param>
    /// <param name="layout">A series per row or per column.</param>
    /// <param name="hasHeader">The first line names the series (columns) or the time steps (rows) and is not data.</param>
    /// <exception cref="InvalidInputException">Missing file, no data, a ragged line, or a cell that is not a number (file:line).</exception>
    public static TimeSeriesDataset FromCsv(string path, TimeSeriesLayout layout = TimeSeriesLayout.Rows, bool hasHeader = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: CSV file not found");
        var (header, lines) = ReadCells(path, hasHeader);
        if (lines.Count == 0) throw new InvalidInputException($"{path}: no data lines");
        var width = lines[0].Values.Length;
        List<double[]> series;
        List<string> names;
        if (layout == TimeSeriesLayout.Rows)
        {
            series = lines.Select(l => l.Values).ToList();
            names = lines.Select((l, i) => $"row {i + 1}").ToList();
        }
        else
        {
            series = Enumerable.Range(0, width).Select(c => lines.Select(l => l.Values[c]).ToArray()).ToList();
            names = Enumerable.Range(0, width).Select(c => header is not null ? header[c] : $"column {c + 1}").ToList();
        }
        var length = series[0].Length;
        var values = new float[(long)series.Count * length];
        var transforms = new List<SeriesNormalization.Transform>(series.Count);
        for (var i = 0; i < series.Count; i++)
        {
            var t = SeriesNormalization.Transform.FromRange(names[i], series[i].Min(), series[i].Max());
            transforms.Add(t);
            for (var k = 0; k < length; k++) values[(long)i * length + k] = (float)((series[i][k] - t.Offset) / t.Scale);
        }
        var all = series.SelectMany(s => s).ToArray();
        var global = SeriesNormalization.Transform.FromRange("all", all.Min(), all.Max());
        return new TimeSeriesDataset(path, values, series.Count, length, new SeriesNormalization(transforms, global));
    }

    /// <inheritdoc />
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
    {
        DatasetChecks.CheckBatch(this, indices, samples, labels);
        var length = SampleShape[1];
        for (var b = 0; b < indices.Length; b++) _values.AsSpan(indices[b] * length, length).CopyTo(samples.Slice(b * length, length));
    }

    /// <summary>Writes series (already in data units) as CSV atomically, in <paramref name="layout"/>, numbers in invariant culture.</summary>
    public static void WriteCsv(string path, IReadOnlyList<float[]> series, TimeSeriesLayout layout = TimeSeriesLayout.Rows)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0 || series.Any(s => s.Length != series[0].Length)) throw new ArgumentException("series must be non-empty and of one length", nameof(series));
        // Numbers in invariant culture never need quoting, so each line is the values joined by commas.
        var text = new StringBuilder();
        var rows = layout == TimeSeriesLayout.Rows ? series.Count : series[0].Length;
        var cols = layout == TimeSeriesLayout.Rows ? series[0].Length : series.Count;
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                if (c > 0) text.Append(',');
                text.Append((layout == TimeSeriesLayout.Rows ? series[r][c] : series[c][r]).ToString("R", CultureInfo.InvariantCulture));
            }
            text.Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }

    private static (string[]? Header, List<(int Line, double[] Values)> Lines) ReadCells(string path, bool hasHeader)
    {
        var lines = new List<(int, double[])>();
        string[]? header = null;
        using var reader = Sep.New(',').Reader(o => o with { HasHeader = false, DisableColCountCheck = true }).FromFile(path);
        foreach (var row in reader)
        {
            var line = row.LineNumberFrom;
            var cells = new string[row.ColCount];
            for (var c = 0; c < cells.Length; c++) cells[c] = row[c].ToString();
            if (cells.Length == 1 && cells[0].Trim().Length == 0) continue;
            if (hasHeader && header is null)
            {
                header = cells.Select(c => c.Trim()).ToArray();
                continue;
            }
            var expected = header?.Length ?? (lines.Count > 0 ? lines[0].Item2.Length : cells.Length);
            if (cells.Length != expected)
            {
                var where = cells.Length < expected ? $"column {cells.Length + 1} is missing" : $"column {expected + 1} is extra";
                throw new InvalidInputException($"{path}:{line}: {cells.Length} values, but {(header is not null ? "the header has" : "the first data line has")} {expected} (ragged: {where})");
            }
            var values = new double[cells.Length];
            for (var c = 0; c < cells.Length; c++)
            {
                if (!double.TryParse(cells[c].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[c]) || !double.IsFinite(values[c]))
                {
                    throw new InvalidInputException($"{path}:{line}: column {c + 1} \"{Short(cells[c])}\" is not a finite number");
                }
            }
            lines.Add((line, values));
        }
        return (header, lines);
    }

    private static string Short(string s) => s.Length > 30 ? s[..27] + "..." : s;
}
