using System.Globalization;
using System.Text.Json;

namespace DiffusionSharp.Data;

/// <summary>
/// The <c>metadata.jsonl</c> of a Hugging Face <c>imagefolder</c> dataset: one JSON object a line, each with a
/// <c>file_name</c> (a path relative to the folder holding <c>metadata.jsonl</c>) and any further columns, e.g. a
/// caption <c>text</c> and label columns such as the bundled emoji's <c>group</c> and <c>subgroup</c>.
/// Blank lines are skipped. A string, number or boolean is a column value (numbers and booleans by their JSON text);
/// null or a missing key means the row has no value there.
/// </summary>
public sealed class ImageFolderMetadata
{
    /// <summary>The file name the <c>imagefolder</c> convention gives the metadata.</summary>
    public const string FileName = "metadata.jsonl";

    /// <summary>The column naming each row's image.</summary>
    public const string FileNameColumn = "file_name";

    /// <summary>The caption column that diffusers' text-to-image scripts read.</summary>
    public const string TextColumn = "text";

    private readonly Dictionary<string, string?[]> _columns;

    private ImageFolderMetadata(string path, string[] files, int[] lines, Dictionary<string, string?[]> columns)
    {
        Path = path;
        Files = files;
        LineNumbers = lines;
        _columns = columns;
    }

    /// <summary>The metadata file (full path).</summary>
    public string Path { get; }

    /// <summary>Full path of each row's image, in file order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The 1-based line of each row in <see cref="Path"/>, for error messages.</summary>
    public IReadOnlyList<int> LineNumbers { get; }

    /// <summary>Number of rows (images).</summary>
    public int Count => Files.Count;

    /// <summary>Every column other than <c>file_name</c> that some row has, ordinally sorted.</summary>
    public IReadOnlyList<string> ColumnNames => _columns.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>The values of <paramref name="column"/>, one per row (null where a row has none); null when no row has the column.</summary>
    public IReadOnlyList<string?>? Column(string column) => _columns.GetValueOrDefault(column);

    /// <summary>Reads <paramref name="path"/> and checks that every listed image exists.</summary>
    /// <exception cref="InvalidInputException">
    /// A line that is not a JSON object (named <c>file:line</c>), a row without a string <c>file_name</c>, a
    /// <c>file_name</c> that is absolute, leaves the folder, repeats an earlier one or names a missing file, or no rows at all.
    /// </exception>
    public static ImageFolderMetadata Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new InvalidInputException($"{path}: metadata file not found");
        var root = System.IO.Path.GetDirectoryName(full)!;
        var files = new List<string>();
        var lines = new List<int>();
        var values = new List<Dictionary<string, string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int number = 0;
        foreach (var line in File.ReadLines(full))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{full}:{number.ToString(CultureInfo.InvariantCulture)}";
            var row = ParseRow(line, where);
            if (!row.Remove(FileNameColumn, out var name))
                throw new InvalidInputException($"{where}: expected a \"{FileNameColumn}\" string, found none");
            var file = Resolve(root, name, where);
            if (!seen.Add(file)) throw new InvalidInputException($"{where}: \"{name}\" is listed a second time");
            files.Add(file);
            lines.Add(number);
            values.Add(row);
        }
        if (files.Count == 0) throw new InvalidInputException($"{full}: expected one JSON object a line, found no rows");

        var columns = new Dictionary<string, string?[]>(StringComparer.Ordinal);
        for (int i = 0; i < values.Count; i++)
            foreach (var (key, value) in values[i])
            {
                if (!columns.TryGetValue(key, out var column)) columns[key] = column = new string?[values.Count];
                column[i] = value;
            }
        return new ImageFolderMetadata(full, files.ToArray(), lines.ToArray(), columns);
    }

    /// <summary>The values of <paramref name="column"/>, which every row must have (e.g. a label column).</summary>
    /// <param name="column">The column name.</param>
    /// <param name="property">The <c>Type.Member</c> the column name was given for; the error starts with its member name.</param>
    /// <exception cref="InvalidInputException">No row has the column (the message lists those there are), or one row lacks it (named <c>file:line</c>).</exception>
    public IReadOnlyList<string> RequiredColumn(string column, string property)
    {
        string member = InvalidInputException.MemberOf(property);
        if (Column(column) is not { } values)
            throw new InvalidInputException(
                $"{member} '{column}': {Path} has no such column (it has {string.Join(", ", ColumnNames.Select(c => $"'{c}'"))})", property);
        for (int i = 0; i < values.Count; i++)
            if (values[i] is null)
                throw new InvalidInputException($"{member} '{column}': {Path}:{LineNumbers[i]} has no value for it", property);
        return values!;
    }

    private static Dictionary<string, string> ParseRow(string line, string where)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{where}: expected a JSON object, found invalid JSON ({e.Message.Split('\n')[0]})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidInputException($"{where}: expected a JSON object, found a JSON {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
            var row = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == FileNameColumn && p.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidInputException($"{where}: expected \"{FileNameColumn}\" to be a string, found a JSON {p.Value.ValueKind.ToString().ToLowerInvariant()}");
                string? value = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString(),
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => p.Value.GetRawText(),
                    JsonValueKind.Null => null,
                    // Lists and objects (e.g. bounding boxes) are kept out: no label or caption is one.
                    _ => null,
                };
                if (value is not null) row[p.Name] = value;
            }
            return row;
        }
    }

    private static string Resolve(string root, string name, string where)
    {
        if (name.Length == 0 || System.IO.Path.IsPathRooted(name))
            throw new InvalidInputException($"{where}: expected \"{FileNameColumn}\" relative to {root}, found \"{name}\"");
        var file = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, name));
        var prefix = System.IO.Path.EndsInDirectorySeparator(root) ? root : root + System.IO.Path.DirectorySeparatorChar;
        if (!file.StartsWith(prefix, StringComparison.Ordinal))
            throw new InvalidInputException($"{where}: \"{name}\" lies outside {root}");
        if (!File.Exists(file)) throw new InvalidInputException($"{where}: \"{name}\" not found ({file})");
        return file;
    }
}
