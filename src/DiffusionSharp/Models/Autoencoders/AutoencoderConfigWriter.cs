using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>Writes a config the way diffusers' <c>save_config</c> does: sorted keys, two-space indent, floats with a decimal point.</summary>
internal static class AutoencoderConfigWriter
{
    public static string ToJson(string className, IReadOnlyDictionary<string, object?> entries)
    {
        var sorted = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["_class_name"] = className,
            ["_diffusers_version"] = UNet2DConfig.DiffusersVersion,
        };
        foreach (var (k, v) in entries) sorted[k] = v;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in sorted)
            {
                w.WritePropertyName(k);
                WriteValue(w, v);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteValue(Utf8JsonWriter w, object? v)
    {
        switch (v)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case int i: w.WriteNumberValue(i); break;
            case double d:
                // Python writes a float as 1.0, not 1: keep the decimal point so the value reads back as a float there too.
                var text = d.ToString("R", CultureInfo.InvariantCulture);
                w.WriteRawValue(text.Contains('.') || text.Contains('E') ? text : text + ".0");
                break;
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
