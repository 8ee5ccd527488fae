using System.Globalization;
using System.Text.Json;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// Parses a diffusers autoencoder <c>config.json</c> key by key: typed getters whose errors name the file, the key and the value
/// found, a <c>_class_name</c> check, and the refusal of keys the port does not know.
/// </summary>
internal sealed class AutoencoderConfigReader(string source, string className)
{
    /// <summary>Parses <paramref name="json"/> and hands every top-level property not starting with '_' to <paramref name="apply"/>.</summary>
    /// <exception cref="InvalidInputException">Bad JSON, not an object, or another <c>_class_name</c>.</exception>
    public static void ForEachKey(string json, string source, string className, Action<AutoencoderConfigReader, JsonProperty> apply)
    {
        IO.JsonFile.CheckLength(json, source);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, IO.JsonFile.DocumentOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidInputException($"{source}: expected a JSON object, found {doc.RootElement.ValueKind}");
            }
            var reader = new AutoencoderConfigReader(source, className);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "_class_name")
                {
                    if (p.Value.ValueKind != JsonValueKind.String || p.Value.GetString() != className) throw reader.Bad(p.Name, p.Value, $"\"{className}\"");
                    continue;
                }
                // diffusers' private keys (_diffusers_version, _name_or_path, ...) say nothing about the architecture.
                if (p.Name.StartsWith('_')) continue;
                apply(reader, p);
            }
        }
    }

    public InvalidInputException Bad(string key, JsonElement v, string expected) =>
        new($"{source}: {key} = {Short(v)} is not supported: expected {expected}");

    public InvalidInputException Unknown(JsonProperty p) =>
        new($"{source}: unknown {className} key '{p.Name}' (value {Short(p.Value)}); this port implements diffusers {UNet2DConfig.DiffusersVersion} {className} options only");

    public int Int(string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Bad(key, v, "an integer");

    public double Double(string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d : throw Bad(key, v, "a finite number");

    public double? NullableDouble(string key, JsonElement v) => v.ValueKind == JsonValueKind.Null ? null : Double(key, v);

    public bool Bool(string key, JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Bad(key, v, "true or false"),
    };

    public string String(string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(key, v, "a string");

    public IReadOnlyList<int> Ints(string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(e => Int(key, e)).ToList() : throw Bad(key, v, "a list of integers");

    /// <summary>A list whose every entry must be the string <paramref name="only"/>; returns its length.</summary>
    public int CountOf(string key, JsonElement v, string only)
    {
        if (v.ValueKind != JsonValueKind.Array) throw Bad(key, v, $"a list of \"{only}\"");
        var n = 0;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String || e.GetString() != only) throw Bad(key, e, $"\"{only}\" (the only block type this port implements)");
            n++;
        }
        return n;
    }

    private static string Short(JsonElement v)
    {
        var raw = v.GetRawText();
        return raw.Length > 60 ? raw[..57] + "..." : raw;
    }

    /// <summary>A value for an error message, formatted like JSON.</summary>
    public static string Format(object? v) => v switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object>().Select(Format)) + "]",
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "?",
    };
}
