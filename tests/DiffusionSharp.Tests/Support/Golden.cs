using System.Globalization;
using System.Text.Json;

namespace DiffusionSharp.Tests.Support;

/// <summary>Reads the diffusers reference files in ../shared/golden/visible (see its README for every field).</summary>
public static class Golden
{
    private static readonly Dictionary<string, JsonDocument> Cache = new();

    /// <summary>The parsed JSON file, cached for the test run.</summary>
    public static JsonElement Load(string fileName)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(fileName, out var doc))
            {
                doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestPaths.Golden, fileName)));
                Cache[fileName] = doc;
            }
            return doc.RootElement;
        }
    }

    /// <summary>A JSON number list as float32 values (the files store float32 as shortest round-trip decimals).</summary>
    public static float[] Floats(JsonElement array) =>
        array.EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();

    /// <summary>A JSON number list as doubles.</summary>
    public static double[] Doubles(JsonElement array) =>
        array.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    /// <summary>A JSON number list as int64.</summary>
    public static long[] Longs(JsonElement array) =>
        array.EnumerateArray().Select(e => e.GetInt64()).ToArray();

    /// <summary>The <c>data</c> of a tensor object <c>{shape, dtype, data}</c>, and its shape.</summary>
    public static (float[] Data, long[] Shape) Tensor(JsonElement obj) =>
        (Floats(obj.GetProperty("data")), Longs(obj.GetProperty("shape")));

    /// <summary>Max |a - b| over two equally long arrays.</summary>
    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths differ: {a.Length} vs {b.Length}");
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }

    /// <summary>Formats a value for assertion messages.</summary>
    public static string Show(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
