using System.Text.Json;
using DiffusionSharp.IO;

namespace DiffusionSharp.Text;

/// <summary>The special tokens and row length of a CLIP tokenizer folder, read from <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>.</summary>
internal sealed record ClipTokenizerSettings(string BosToken, string EosToken, string PadToken, string UnknownToken, int ModelMaxLength)
{
    /// <summary>CLIPTokenizer's defaults (transformers' <c>tokenization_clip.py</c>); 77 = CLIP's position embeddings.</summary>
    private static readonly ClipTokenizerSettings Defaults = new("<|startoftext|>", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>", 77);

    /// <summary>Keys of transformers' tokenizer files that do not change the ids this tokenizer produces.</summary>
    private static readonly HashSet<string> Harmless = new(StringComparer.Ordinal)
    {
        "do_lower_case", "errors", "name_or_path", "special_tokens_map_file", "clean_up_tokenization_spaces",
        "model_input_names", "padding_side", "truncation_side", "added_tokens_decoder",
    };

    /// <summary>Reads the settings; at least one of the two files must exist.</summary>
    public static ClipTokenizerSettings Read(string dir, IReadOnlyDictionary<string, int> vocab)
    {
        var configPath = Path.Combine(dir, ClipTokenizer.ConfigFileName);
        var mapPath = Path.Combine(dir, ClipTokenizer.SpecialTokensFileName);
        if (!File.Exists(configPath) && !File.Exists(mapPath))
            throw new InvalidInputException($"{configPath}: not found (nor {ClipTokenizer.SpecialTokensFileName}); expected a CLIP tokenizer folder");
        var s = Defaults;
        if (File.Exists(configPath)) s = Apply(s, configPath, vocab, isConfig: true);
        // transformers lets special_tokens_map.json override the config's special tokens.
        if (File.Exists(mapPath)) s = Apply(s, mapPath, vocab, isConfig: false);
        return s;
    }

    private static ClipTokenizerSettings Apply(ClipTokenizerSettings s, string path, IReadOnlyDictionary<string, int> vocab, bool isConfig)
    {
        var json = JsonFile.ReadText(path, "tokenizer file");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, JsonFile.DocumentOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{path}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{path}: expected a JSON object, found {doc.RootElement.ValueKind}");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var v = p.Value;
                s = p.Name switch
                {
                    "bos_token" => s with { BosToken = Token(path, p.Name, v, vocab) },
                    "eos_token" => s with { EosToken = Token(path, p.Name, v, vocab) },
                    "pad_token" => s with { PadToken = Token(path, p.Name, v, vocab) },
                    "unk_token" => s with { UnknownToken = Token(path, p.Name, v, vocab) },
                    "model_max_length" when isConfig => s with { ModelMaxLength = MaxLength(path, v) },
                    "tokenizer_class" when isConfig => CheckClass(s, path, v),
                    "add_prefix_space" when isConfig => v.ValueKind == JsonValueKind.False ? s
                        : throw new InvalidInputException($"{path}: add_prefix_space = {v.GetRawText()} is not supported (CLIP's tokenizer adds no prefix space)"),
                    "additional_special_tokens" => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0 ? s
                        : throw new InvalidInputException($"{path}: additional_special_tokens {Short(v)} are not supported (only bos/eos/pad/unk)"),
                    _ when Harmless.Contains(p.Name) => s,
                    _ => throw new InvalidInputException($"{path}: unknown key '{p.Name}' (value {Short(v)}); expected a transformers CLIPTokenizer file"),
                };
            }
        }
        return s;
    }

    private static ClipTokenizerSettings CheckClass(ClipTokenizerSettings s, string path, JsonElement v) =>
        v.ValueKind == JsonValueKind.String && v.GetString() is "CLIPTokenizer" or "CLIPTokenizerFast" ? s
            : throw new InvalidInputException($"{path}: tokenizer_class = {Short(v)} is not supported: expected \"CLIPTokenizer\" or \"CLIPTokenizerFast\"");

    private static int MaxLength(string path, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n >= 2 ? n
            : throw new InvalidInputException($"{path}: model_max_length = {Short(v)} is not supported: expected an integer of at least 2 (CLIP: 77)");

    /// <summary>A special token given as a string or as transformers' AddedToken object <c>{"content": ...}</c>; it must be in the vocabulary.</summary>
    private static string Token(string path, string key, JsonElement v, IReadOnlyDictionary<string, int> vocab)
    {
        var content = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => null,
        };
        if (string.IsNullOrEmpty(content))
            throw new InvalidInputException($"{path}: {key} = {Short(v)} is not a token: expected a string or an object with \"content\"");
        if (!vocab.ContainsKey(content))
            throw new InvalidInputException($"{path}: {key} '{content}' is not in {ClipTokenizer.VocabFileName} (unknown special token)");
        return content;
    }

    private static string Short(JsonElement v)
    {
        var raw = v.GetRawText();
        return raw.Length > 60 ? raw[..57] + "..." : raw;
    }
}
