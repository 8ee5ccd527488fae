using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.IO;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// <c>class_names.json</c> at the top of a class-conditional training run: the name of each class index the network
/// was trained with (<c>"class_names"</c>, label i = entry i) and, for an <c>imagefolder</c> dataset, the
/// <c>metadata.jsonl</c> column they came from (<c>"label_column"</c>). Sampling reads it so that a class can be asked
/// for by name (<c>--class "Smileys &amp; Emotion"</c>) as well as by index. diffusers ignores the file.
/// </summary>
public static class ClassNamesFile
{
    /// <summary>The file's name inside a run (pipeline) folder.</summary>
    public const string FileName = "class_names.json";

    /// <summary>Writes <paramref name="classNames"/> (and the column they came from) to <paramref name="path"/>, atomically.</summary>
    public static void Write(string path, IReadOnlyList<string> classNames, string? labelColumn)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(classNames);
        var json = new JsonObject { ["class_names"] = new JsonArray(classNames.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()) };
        if (labelColumn is not null) json["label_column"] = labelColumn;
        // Relaxed escaping keeps names such as "Smileys & Emotion" readable; the file is never embedded in HTML.
        var options = new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.WriteAllText(path, json.ToJsonString(options) + "\n");
    }

    /// <summary>The class names recorded in <paramref name="folder"/>'s <c>class_names.json</c>; null when the folder has none.</summary>
    /// <exception cref="InvalidInputException">The file exists but is not an object with a <c>class_names</c> list of strings.</exception>
    public static IReadOnlyList<string>? Read(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        var text = JsonFile.ReadText(path, "class names file");
        try
        {
            using var doc = JsonDocument.Parse(text, JsonFile.DocumentOptions);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("class_names", out var names) && names.ValueKind == JsonValueKind.Array
                && names.EnumerateArray().All(n => n.ValueKind == JsonValueKind.String))
                return names.EnumerateArray().Select(n => n.GetString()!).ToArray();
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})");
        }
        throw new InvalidInputException($"{path}: expected an object with a \"class_names\" list of strings");
    }
}
