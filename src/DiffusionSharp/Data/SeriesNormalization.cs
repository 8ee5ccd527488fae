using System.Text.Json;
using System.Text.Json.Serialization;
using DiffusionSharp.IO;

namespace DiffusionSharp.Data;

/// <summary>
/// The per-series min-max normalisation of a <see cref="TimeSeriesDataset"/>: series i is stored as (x − offset_i) / scale_i with
/// offset = (max + min) / 2 and scale = (max − min) / 2, so it spans [-1, 1] (a constant series gets scale 1 and becomes 0).
/// <see cref="Global"/> does the same over all values, for generated series that belong to no one row. Saved as JSON in the run
/// folder (<see cref="FileName"/>) so outputs can be mapped back to the data's units.
/// </summary>
/// <param name="Series">One entry per series, in dataset order.</param>
/// <param name="Global">The transform over all series' values together.</param>
public sealed record SeriesNormalization(IReadOnlyList<SeriesNormalization.Transform> Series, SeriesNormalization.Transform Global)
{
    /// <summary>The file name in a run folder.</summary>
    public const string FileName = "normalization.json";

    /// <summary>x_normalised = (x − Offset) / Scale.</summary>
    /// <param name="Name">The series' name (its header, or its 1-based row or column number).</param>
    /// <param name="Offset">Midpoint of the series' range.</param>
    /// <param name="Scale">Half the range (1 for a constant series).</param>
    public sealed record Transform(string Name, double Offset, double Scale)
    {
        /// <summary>The transform that maps [min, max] onto [-1, 1].</summary>
        public static Transform FromRange(string name, double min, double max) =>
            new(name, (max + min) / 2, max > min ? (max - min) / 2 : 1);

        /// <summary>Normalised value to data units: x · Scale + Offset.</summary>
        public double Undo(double normalised) => normalised * Scale + Offset;
    }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Maps normalised <paramref name="values"/> back to data units in place, with series <paramref name="series"/>'s transform (null = <see cref="Global"/>).</summary>
    public void Undo(Span<float> values, int? series = null)
    {
        var t = series is int i ? Series[i] : Global;
        for (var k = 0; k < values.Length; k++) values[k] = (float)t.Undo(values[k]);
    }

    /// <summary>Writes the JSON atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Options) + "\n");

    /// <summary>Reads a saved normalisation.</summary>
    /// <exception cref="InvalidInputException">Missing or malformed file.</exception>
    public static SeriesNormalization Load(string path)
    {
        var text = JsonFile.ReadText(path, "normalisation file");
        try
        {
            var n = JsonSerializer.Deserialize<SeriesNormalization>(text, Options);
            if (n?.Series is null || n.Global is null) throw new InvalidInputException($"{path}: expected \"series\" and \"global\"");
            return n;
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not a normalisation file: {e.Message}", e);
        }
    }
}
