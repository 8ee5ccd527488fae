using System.Globalization;
using System.Text.Json;
using DiffusionSharp.Audio;

namespace DiffusionSharp.Data;

/// <summary>
/// A folder of WAV files as a dataset of <c>[C, L]</c> clips, laid out like Hugging Face's <c>audiofolder</c>: a
/// <c>metadata.jsonl</c> with one JSON object per line, its <c>file_name</c> (relative to the folder) and a label column
/// (<c>label</c> unless told otherwise); without <c>metadata.jsonl</c>, every <c>*.wav</c> below the folder, unlabelled, in
/// ordinal path order. Class names are the distinct label values sorted (integers numerically, strings ordinally), a
/// class's index its position in that order: the same files give the same indices everywhere. Every clip is decoded once,
/// fitted to the model's rate, channels and length (<see cref="AudioClip.Fit"/>) and kept as floats in [-1, 1].
/// </summary>
public sealed class AudioFolderDataset : IDataset
{
    /// <summary>The metadata file name, as in Hugging Face's audiofolder.</summary>
    public const string MetadataFileName = "metadata.jsonl";

    private readonly float[] _samples;
    private readonly long[] _labels;

    private AudioFolderDataset(string root, IReadOnlyList<string> files, float[] samples, long[] labels, string[] classNames, int channels, int length, int sampleRate)
    {
        Root = root;
        Files = files;
        _samples = samples;
        _labels = labels;
        ClassNames = classNames;
        SampleShape = [channels, length];
        SampleRate = sampleRate;
    }

    /// <summary>The folder.</summary>
    public string Root { get; }

    /// <summary>The clip files in dataset order, relative to <see cref="Root"/>.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The rate every clip was resampled to, in Hz.</summary>
    public int SampleRate { get; }

    /// <inheritdoc />
    public int Count => Files.Count;

    /// <summary><c>[C, L]</c>.</summary>
    public IReadOnlyList<int> SampleShape { get; }

    /// <inheritdoc />
    public int NumClasses => ClassNames.Count;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Opens and decodes a folder.</summary>
    /// <param name="root">The folder.</param>
    /// <param name="sampleRate">The model's rate; files at other rates are resampled.</param>
    /// <param name="channels">The model's channel count C.</param>
    /// <param name="length">The model's length L; clips are cropped or padded at the end.</param>
    /// <param name="mode">Mix channels down, or keep them.</param>
    /// <param name="labelColumn">The metadata key holding the class; null for no labels.</param>
    /// <exception cref="InvalidInputException">A missing folder or file, a malformed metadata line (named as file:line), or a bad WAV file.</exception>
    public static AudioFolderDataset Open(string root, int sampleRate, int channels, int length, AudioChannelMode mode = AudioChannelMode.MixDown, string? labelColumn = "label")
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (!Directory.Exists(root)) throw new InvalidInputException($"{root}: audio folder not found");
        var metadata = Path.Combine(root, MetadataFileName);
        var (files, rawLabels) = File.Exists(metadata) ? ReadMetadata(root, metadata, labelColumn) : (ListWavs(root), null);
        if (files.Count == 0) throw new InvalidInputException($"{root}: no WAV files" + (File.Exists(metadata) ? $" listed in {MetadataFileName}" : ""));

        var (labels, classNames) = rawLabels is null ? ([], []) : IndexClasses(rawLabels, metadata);
        var size = channels * length;
        var samples = new float[(long)files.Count * size];
        for (var i = 0; i < files.Count; i++)
        {
            var path = Path.Combine(root, files[i]);
            var audio = WavFile.Read(path);
            AudioClip.Fit(audio, sampleRate, channels, length, mode, samples.AsSpan(i * size, size), path);
        }
        return new AudioFolderDataset(root, files, samples, labels, classNames, channels, length, sampleRate);
    }

    /// <inheritdoc />
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
    {
        DatasetChecks.CheckBatch(this, indices, samples, labels);
        var size = SampleShape[0] * SampleShape[1];
        for (var b = 0; b < indices.Length; b++)
        {
            _samples.AsSpan(indices[b] * size, size).CopyTo(samples.Slice(b * size, size));
            if (NumClasses > 0) labels[b] = _labels[indices[b]];
        }
    }

    private static List<string> ListWavs(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
            .Select(f => Path.GetRelativePath(root, f))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static (List<string> Files, List<(JsonElement Value, int Line)>? Labels) ReadMetadata(string root, string metadata, string? labelColumn)
    {
        var files = new List<string>();
        var labels = new List<(JsonElement, int)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var fullRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + Path.DirectorySeparatorChar;
        var lineNumber = 0;
        int? firstUnlabelled = null;
        foreach (var line in File.ReadLines(metadata))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var where = $"{metadata}:{lineNumber}";
            JsonElement row;
            try
            {
                using var doc = JsonDocument.Parse(line);
                row = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"{where}: not a JSON object: {e.Message}", e);
            }
            if (row.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{where}: expected a JSON object, found {row.ValueKind}");
            if (!row.TryGetProperty("file_name", out var name) || name.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(name.GetString()))
                throw new InvalidInputException($"{where}: no \"file_name\" string");
            var file = name.GetString()!;
            var full = Path.GetFullPath(Path.Combine(root, file));
            if (Path.IsPathRooted(file) || !full.StartsWith(fullRoot, StringComparison.Ordinal))
                throw new InvalidInputException($"{where}: file_name \"{file}\" is not a path inside {root}");
            if (!File.Exists(full)) throw new InvalidInputException($"{where}: {file} does not exist in {root}");
            if (!seen.Add(file)) throw new InvalidInputException($"{where}: {file} is listed twice");
            files.Add(file);
            if (labelColumn is not null && row.TryGetProperty(labelColumn, out var label) && label.ValueKind != JsonValueKind.Null)
                labels.Add((label, lineNumber));
            else
                firstUnlabelled ??= lineNumber;
        }
        if (labels.Count == 0) return (files, null);
        if (firstUnlabelled is int missing)
        {
            throw new InvalidInputException($"{metadata}:{missing}: no \"{labelColumn}\" value, while {labels.Count} other lines have one");
        }
        return (files, labels);
    }

    private static (long[] Labels, string[] ClassNames) IndexClasses(List<(JsonElement Value, int Line)> raw, string metadata)
    {
        var numeric = raw[0].Value.ValueKind == JsonValueKind.Number;
        var keys = new List<string>(raw.Count);
        var numbers = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (v, line) in raw)
        {
            if (numeric && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n))
            {
                var key = n.ToString(CultureInfo.InvariantCulture);
                numbers[key] = n;
                keys.Add(key);
            }
            else if (!numeric && v.ValueKind == JsonValueKind.String)
            {
                keys.Add(v.GetString()!);
            }
            else
            {
                throw new InvalidInputException($"{metadata}:{line}: label {v.GetRawText()} is not {(numeric ? "an integer" : "a string")} like the first line's (labels are all integers or all strings)");
            }
        }
        var names = numeric
            ? keys.Distinct().OrderBy(k => numbers[k]).ToArray()
            : keys.Distinct().Order(StringComparer.Ordinal).ToArray();
        var index = names.Select((k, i) => (k, i)).ToDictionary(p => p.k, p => (long)p.i, StringComparer.Ordinal);
        return (keys.Select(k => index[k]).ToArray(), names);
    }
}
