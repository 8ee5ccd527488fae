using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using DiffusionSharp.IO;

namespace DiffusionSharp.Data;

/// <summary>
/// Writes the <c>metadata.jsonl</c> of an audiofolder (<see cref="AudioFolderDataset"/>'s layout) or imagefolder
/// (<see cref="ImageFolderDataset"/>'s): one line per file with its <c>file_name</c> and <c>label</c>, so a folder of
/// generated clips or images records the class each was asked for and reads back as a labelled dataset.
/// </summary>
public static class AudioFolderMetadata
{
    // Names such as "Smileys & Emotion" stay readable in the file (a file, not HTML: no escaping of &, <, > or non-ASCII).
    private static readonly JsonSerializerOptions Plain = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Writes <c>metadata.jsonl</c> in <paramref name="folder"/> atomically: <c>{"file_name": ..., "label": ...}</c> per clip,
    /// the label as a JSON integer when every label is one (as the bundled spoken digits store theirs), else as a string.
    /// </summary>
    /// <param name="folder">The folder holding the clips.</param>
    /// <param name="fileNames">Each clip's file name relative to <paramref name="folder"/>.</param>
    /// <param name="labels">Each clip's class name, in the same order.</param>
    /// <exception cref="ArgumentException">The lists differ in length.</exception>
    public static void Write(string folder, IReadOnlyList<string> fileNames, IReadOnlyList<string> labels)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(fileNames);
        ArgumentNullException.ThrowIfNull(labels);
        if (fileNames.Count != labels.Count)
            throw new ArgumentException($"expected one label per file ({fileNames.Count}), found {labels.Count}", nameof(labels));
        var numeric = labels.All(l => long.TryParse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            && v.ToString(CultureInfo.InvariantCulture) == l);
        var text = new StringBuilder();
        for (var i = 0; i < fileNames.Count; i++)
        {
            var label = numeric ? labels[i] : JsonSerializer.Serialize(labels[i], Plain);
            text.Append("{\"file_name\": ").Append(JsonSerializer.Serialize(fileNames[i], Plain)).Append(", \"label\": ").Append(label).Append("}\n");
        }
        AtomicFile.WriteAllText(Path.Combine(folder, AudioFolderDataset.MetadataFileName), text.ToString());
    }
}
