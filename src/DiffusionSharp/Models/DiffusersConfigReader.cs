using System.Globalization;
using System.Text.Json;

namespace DiffusionSharp.Models;

/// <summary>Typed getters for a diffusers <c>config.json</c> whose errors name the file, the key and the value found; and the matching writer.</summary>
internal sealed class DiffusersConfigReader(string source)
{
    /// <summary>A key accepted at one value only (an option this port does not implement), with the value written back.</summary>
    /// <param name="Expected">What the error message says is expected.</param>
    /// <param name="Accepts">Whether a JSON value is that default.</param>
    /// <param name="Write">The value <c>ToJson</c> writes.</param>
    internal sealed record FixedValue(string Expected, Func<JsonElement, bool> Accepts, object? Write)
    {
        public static FixedValue Null { get; } = new("null", v => v.ValueKind == JsonValueKind.Null, null);

        public static FixedValue False { get; } = new("false", v => v.ValueKind == JsonValueKind.False, false);

        public static FixedValue NullOrFalse { get; } = new("null or false", v => v.ValueKind is JsonValueKind.Null or JsonValueKind.False, null);

        public static FixedValue Text(string s) => new($"\"{s}\"", v => v.ValueKind == JsonValueKind.String && v.GetString() == s, s);

        public static FixedValue Number(double d) =>
            new(Format(d), v => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var x) && x == d, d);
    }

    private InvalidInputException Bad(string key, JsonElement v, string expected) =>
        new($"{source}: {key} = {Short(v)} is not supported: expected {expected}");

    public bool ClassName(JsonElement v, string className) =>
        v.ValueKind == JsonValueKind.String && v.GetString() == className ? true : throw Bad("_class_name", v, $"\"{className}\"");

    public bool Fixed(string key, JsonElement v, FixedValue value) =>
        value.Accepts(v) ? true : throw Bad(key, v, value.Expected + " (this port does not implement the option)");

    public int Int(string key, JsonElement v, string expected = "an integer") =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Bad(key, v, expected);

    public int? NullableInt(string key, JsonElement v) => v.ValueKind == JsonValueKind.Null ? null : Int(key, v, "an integer or null");

    /// <summary>An int (broadcast later to every level, as diffusers does) or a list of ints.</summary>
    public IReadOnlyList<int> IntOrList(string key, JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Number => [Int(key, v, "an integer or a list of integers")],
        JsonValueKind.Array => v.EnumerateArray().Select(e => Int(key, e, "an integer or a list of integers")).ToList(),
        _ => throw Bad(key, v, "an integer or a list of integers"),
    };

    public double Double(string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : throw Bad(key, v, "a number");

    public bool Bool(string key, JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Bad(key, v, "true or false"),
    };

    public string String(string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(key, v, "a string");

    public T Enum<T>(string key, JsonElement v, IReadOnlyDictionary<T, string> names) where T : struct, Enum
    {
        var expected = "one of " + string.Join(", ", names.Values.Select(n => "\"" + n + "\""));
        if (v.ValueKind != JsonValueKind.String) throw Bad(key, v, expected);
        var s = v.GetString()!;
        foreach (var (value, name) in names)
        {
            if (name == s) return value;
        }
        throw Bad(key, v, expected);
    }

    public IReadOnlyList<T> List<T>(string key, JsonElement v, Func<JsonElement, T> item) =>
        v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(item).ToList() : throw Bad(key, v, "a list");

    /// <summary>A JSON value shortened for an error message.</summary>
    public static string Short(JsonElement v)
    {
        var raw = v.GetRawText();
        return raw.Length > 60 ? raw[..57] + "..." : raw;
    }

    /// <summary>A config value as JSON-like text for an error message.</summary>
    public static string Format(object? v) => v switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object>().Select(x => x is Enum ? "\"" + x + "\"" : Format(x))) + "]",
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "?",
    };

    /// <summary>Writes a config value as diffusers' JSON does (integral floats as integers, like Python's json for 1.0 -> written by us as 1).</summary>
    public static void WriteValue(Utf8JsonWriter w, object? v)
    {
        switch (v)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case int i: w.WriteNumberValue(i); break;
            case double d when d == Math.Floor(d) && Math.Abs(d) < 1e15: w.WriteNumberValue((long)d); break;
            case double d: w.WriteRawValue(d.ToString("R", CultureInfo.InvariantCulture)); break;
            case IEnumerable<int> list:
                w.WriteStartArray();
                foreach (var x in list) w.WriteNumberValue(x);
                w.WriteEndArray();
                break;
            case IEnumerable<string> list:
                w.WriteStartArray();
                foreach (var x in list) w.WriteStringValue(x);
                w.WriteEndArray();
                break;
            default: throw new InvalidOperationException($"cannot write {v.GetType()}");
        }
    }
}
