using System.Text.Json;
using DiffusionSharp.IO;

namespace DiffusionSharp.Text;

/// <summary>
/// Tokenizes every string of a reference file and compares the ids, for <c>diffuse model check</c> on a tokenizer folder.
/// The reference has the layout of the golden <c>clip_tokenizer/tokens.json</c>: <c>entries</c>, each with <c>text</c>,
/// <c>ids</c> (no bos/eos) and optionally the padded rows <c>input_ids_77_pad49407</c> / <c>input_ids_77_pad0</c>
/// (the one matching the tokenizer's pad id is compared).
/// </summary>
public static class ClipTokenizerCheck
{
    /// <summary>Checks <paramref name="tokenizer"/> against the reference file.</summary>
    /// <exception cref="InvalidInputException">The reference file is missing, not JSON, or has no <c>entries</c> of that layout.</exception>
    public static ClipTokenizerCheckResult Run(ClipTokenizer tokenizer, string referencePath)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var text = JsonFile.ReadText(referencePath, "reference file");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, JsonFile.DocumentOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{referencePath}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("entries", out var entries) || entries.ValueKind != JsonValueKind.Array)
                throw new InvalidInputException($"{referencePath}: expected an object with an 'entries' list (the layout of tokens.json)");
            var rowKey = $"input_ids_{tokenizer.ModelMaxLength}_pad{tokenizer.PadTokenId}";
            var mismatches = new List<string>();
            var index = 0;
            foreach (var e in entries.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String
                    || !e.TryGetProperty("ids", out var ids) || ids.ValueKind != JsonValueKind.Array)
                    throw new InvalidInputException($"{referencePath}: entries[{index}] lacks a string 'text' or a list 'ids'");
                var want = Longs(referencePath, index, "ids", ids);
                var got = tokenizer.Encode(t.GetString()!).Select(i => (long)i).ToArray();
                if (!got.SequenceEqual(want))
                {
                    mismatches.Add($"entries[{index}] {Quote(t.GetString()!)}: ids [{Show(got)}], reference [{Show(want)}]");
                }
                else if (e.TryGetProperty(rowKey, out var row))
                {
                    var wantRow = Longs(referencePath, index, rowKey, row);
                    var gotRow = tokenizer.Tokenize([t.GetString()!]).InputIds.ToArray();
                    if (!gotRow.SequenceEqual(wantRow)) mismatches.Add($"entries[{index}] {Quote(t.GetString()!)}: padded row differs from {rowKey}");
                }
                index++;
            }
            return new ClipTokenizerCheckResult(index, mismatches);
        }
    }

    private static long[] Longs(string path, int index, string key, JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Array) throw new InvalidInputException($"{path}: entries[{index}].{key} is not a list");
        return v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out var l) ? l
            : throw new InvalidInputException($"{path}: entries[{index}].{key} holds {x.GetRawText()}, expected integers")).ToArray();
    }

    private static string Quote(string s) => "\"" + (s.Length > 30 ? s[..27] + "..." : s) + "\"";

    private static string Show(long[] ids) => string.Join(", ", ids.Take(12)) + (ids.Length > 12 ? ", ..." : "");
}
