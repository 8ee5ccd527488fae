using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace DiffusionSharp.Studio;

/// <summary>Reads a request's query parameters; a value that does not parse is a 400 naming the parameter.</summary>
internal sealed class QueryReader(IQueryCollection query)
{
    /// <summary>The parameter's value, or null when absent or empty.</summary>
    public string? String(string name) => query[name].ToString() is { Length: > 0 } v ? v : null;

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="fallback"/> when absent.</summary>
    public int Int(string name, int fallback, int min, int max)
    {
        if (String(name) is not { } text) return fallback;
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v))
            throw StudioRequestException.BadValue(name, $": '{Short(text)}' is not a whole number");
        if (v < min || v > max) throw StudioRequestException.BadValue(name, $" must lie in [{min}, {max}] (got {v})");
        return v;
    }

    /// <summary>A whole number, or <paramref name="fallback"/> when absent.</summary>
    public long Long(string name, long fallback) =>
        String(name) is not { } text ? fallback
        : long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v
        : throw StudioRequestException.BadValue(name, $": '{Short(text)}' is not a whole number");

    /// <summary>A finite number, or <paramref name="fallback"/> when absent.</summary>
    public double Double(string name, double fallback) =>
        String(name) is not { } text ? fallback
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v
        : throw StudioRequestException.BadValue(name, $": '{Short(text)}' is not a number");

    /// <summary>true/false (also 1/0), or <paramref name="fallback"/> when absent.</summary>
    public bool Bool(string name, bool fallback) => String(name) switch
    {
        null => fallback,
        "true" or "1" => true,
        "false" or "0" => false,
        var text => throw StudioRequestException.BadValue(name, $": '{Short(text)}' is not true or false"),
    };

    private static string Short(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
