using System.Text;
using System.Text.Json;
using DiffusionSharp.IO;
using Microsoft.ML.Tokenizers;

namespace DiffusionSharp.Text;

/// <summary>
/// CLIP's byte-level BPE tokenizer, loaded from a Hugging Face <c>tokenizer/</c> folder (<c>vocab.json</c>, <c>merges.txt</c>,
/// <c>tokenizer_config.json</c> and/or <c>special_tokens_map.json</c>), giving openai/CLIP's ids. Text is cleaned by
/// <see cref="ClipTextCleaner"/>, split into words by CLIP's regex, and each word is BPE-merged with <c>&lt;/w&gt;</c> marking
/// its end (Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> with byte-level input and an end-of-word suffix).
/// </summary>
public sealed class ClipTokenizer
{
    /// <summary>The vocabulary file: token string to id.</summary>
    public const string VocabFileName = "vocab.json";

    /// <summary>The merges file: <c>#version</c> line, then one merge <c>a b</c> per line in rank order.</summary>
    public const string MergesFileName = "merges.txt";

    /// <summary>transformers' tokenizer config (special tokens, <c>model_max_length</c>).</summary>
    public const string ConfigFileName = "tokenizer_config.json";

    /// <summary>transformers' special-token file; its entries override those of <see cref="ConfigFileName"/>.</summary>
    public const string SpecialTokensFileName = "special_tokens_map.json";

    /// <summary>
    /// transformers' CLIPTokenizer reads only the first 49152 - 256 - 2 merges (<c>merges[1:49152-256-2+1]</c>): the
    /// vocabulary of openai's BPE is 256 bytes, 256 word-final bytes, these merges and the two special tokens.
    /// </summary>
    public const int MaxMerges = 49152 - 256 - 2;

    private const string EndOfWord = "</w>";

    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<int, string> _tokenOf;
    private static readonly Dictionary<char, byte> ByteOfChar = BuildByteDecoder();

    private ClipTokenizer(BpeTokenizer bpe, Dictionary<int, string> tokenOf, int bos, int eos, int pad, string padToken, int maxLength)
    {
        _bpe = bpe;
        _tokenOf = tokenOf;
        BosTokenId = bos;
        EosTokenId = eos;
        PadTokenId = pad;
        PadToken = padToken;
        ModelMaxLength = maxLength;
    }

    /// <summary>Id of the begin-of-text token (<c>&lt;|startoftext|&gt;</c>, 49406 in CLIP's vocabulary).</summary>
    public int BosTokenId { get; }

    /// <summary>Id of the end-of-text token (<c>&lt;|endoftext|&gt;</c>, 49407).</summary>
    public int EosTokenId { get; }

    /// <summary>Id rows are padded with: 49407 (<c>&lt;|endoftext|&gt;</c>) for SD 1.x, 0 (<c>!</c>) for SD 2.x.</summary>
    public int PadTokenId { get; }

    /// <summary>The pad token's text.</summary>
    public string PadToken { get; }

    /// <summary>Row length L of <see cref="Tokenize"/> (<c>model_max_length</c>, 77 for CLIP).</summary>
    public int ModelMaxLength { get; }

    /// <summary>Number of vocabulary entries.</summary>
    public int VocabSize => _tokenOf.Count;

    /// <summary>Loads a tokenizer folder (or a pipeline folder holding it under <c>tokenizer/</c>).</summary>
    /// <exception cref="InvalidInputException">A missing or malformed file; the message names the file (and line or key).</exception>
    public static ClipTokenizer FromPretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"{folder}: tokenizer folder not found");
        var dir = !File.Exists(Path.Combine(folder, VocabFileName)) && File.Exists(Path.Combine(folder, "tokenizer", VocabFileName))
            ? Path.Combine(folder, "tokenizer")
            : folder;
        var vocabPath = Path.Combine(dir, VocabFileName);
        var mergesPath = Path.Combine(dir, MergesFileName);
        if (!File.Exists(vocabPath)) throw new InvalidInputException($"{vocabPath}: not found; expected a CLIP tokenizer folder (vocab.json, merges.txt, tokenizer_config.json)");
        if (!File.Exists(mergesPath)) throw new InvalidInputException($"{mergesPath}: not found; expected a CLIP tokenizer folder (vocab.json, merges.txt, tokenizer_config.json)");

        var vocab = ReadVocab(vocabPath);
        var merges = ReadMerges(mergesPath, vocab);
        var settings = ClipTokenizerSettings.Read(dir, vocab);

        var tokenOf = new Dictionary<int, string>(vocab.Count);
        foreach (var (token, id) in vocab)
        {
            if (!tokenOf.TryAdd(id, token)) throw new InvalidInputException($"{vocabPath}: id {id} is used by both '{tokenOf[id]}' and '{token}'");
        }
        var specials = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            [settings.BosToken] = vocab[settings.BosToken],
            [settings.EosToken] = vocab[settings.EosToken],
        };
        var bpe = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            EndOfWordSuffix = EndOfWord,
            PreTokenizer = new ClipPreTokenizer(),
            SpecialTokens = specials,
            UnknownToken = settings.UnknownToken,
        });
        return new ClipTokenizer(bpe, tokenOf, vocab[settings.BosToken], vocab[settings.EosToken], vocab[settings.PadToken],
            settings.PadToken, settings.ModelMaxLength);
    }

    /// <summary>The ids of one text without bos/eos (openai's <c>SimpleTokenizer.encode</c>).</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cleaned = ClipTextCleaner.Clean(text);
        return cleaned.Length == 0 ? [] : _bpe.EncodeToIds(cleaned, considerPreTokenization: true, considerNormalization: false);
    }

    /// <summary>The BPE token strings of one text (byte-level characters, word ends marked <c>&lt;/w&gt;</c>).</summary>
    public IReadOnlyList<string> EncodeToTokens(string text) => Encode(text).Select(id => _tokenOf[id]).ToList();

    /// <summary>
    /// Text of a sequence of ids (openai's <c>decode</c>): token strings joined, byte-level characters turned back into
    /// UTF-8 bytes (invalid sequences become U+FFFD), each <c>&lt;/w&gt;</c> a space.
    /// </summary>
    /// <exception cref="ArgumentException">An id is not in the vocabulary.</exception>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var joined = new StringBuilder();
        foreach (var id in ids)
        {
            if (!_tokenOf.TryGetValue(id, out var token)) throw new ArgumentException($"token id {id} is not in the vocabulary (0..{VocabSize - 1})", nameof(ids));
            joined.Append(token);
        }
        var bytes = new List<byte>(joined.Length);
        foreach (var c in joined.ToString())
        {
            if (ByteOfChar.TryGetValue(c, out var b)) bytes.Add(b);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray()).Replace(EndOfWord, " ", StringComparison.Ordinal);
    }

    /// <summary>
    /// Rows of <see cref="ModelMaxLength"/> ids, one per prompt: <c>[bos] + ids[:L-2] + [eos]</c> padded with
    /// <see cref="PadTokenId"/>. Longer prompts are cut; each cut is listed in <see cref="TokenizedPrompts.Truncations"/>.
    /// </summary>
    /// <param name="prompts">B prompts; the empty string gives <c>[bos, eos, pad, ...]</c>.</param>
    public TokenizedPrompts Tokenize(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        int length = ModelMaxLength, keep = ModelMaxLength - 2;
        var ids = new long[prompts.Count * length];
        var mask = new long[prompts.Count * length];
        var truncations = new List<PromptTruncation>();
        for (var b = 0; b < prompts.Count; b++)
        {
            var tokens = Encode(prompts[b] ?? throw new ArgumentException($"prompt {b} is null", nameof(prompts)));
            var kept = Math.Min(tokens.Count, keep);
            if (tokens.Count > keep) truncations.Add(new PromptTruncation(b, tokens.Count, keep, Decode(tokens.Skip(keep))));
            var row = b * length;
            ids[row] = BosTokenId;
            for (var i = 0; i < kept; i++) ids[row + 1 + i] = tokens[i];
            ids[row + 1 + kept] = EosTokenId;
            for (var i = row + 2 + kept; i < row + length; i++) ids[i] = PadTokenId;
            Array.Fill(mask, 1L, row, kept + 2);
        }
        return new TokenizedPrompts(ids, mask, prompts.Count, length, truncations);
    }

    private static Dictionary<string, int> ReadVocab(string path)
    {
        var text = JsonFile.ReadText(path, "vocabulary file");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, JsonFile.DocumentOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{path}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{path}: expected a JSON object token -> id, found {doc.RootElement.ValueKind}");
            var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var id) || id < 0)
                    throw new InvalidInputException($"{path}: token '{p.Name}' has id {p.Value.GetRawText()}; expected a non-negative integer");
                if (!vocab.TryAdd(p.Name, id)) throw new InvalidInputException($"{path}: token '{p.Name}' appears twice");
            }
            if (vocab.Count == 0) throw new InvalidInputException($"{path}: the vocabulary is empty");
            return vocab;
        }
    }

    /// <summary>The merges as transformers reads them: the first line (<c>#version</c>) skipped, at most <see cref="MaxMerges"/>.</summary>
    private static List<string> ReadMerges(string path, Dictionary<string, int> vocab)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"{path}: cannot read the merges file ({e.Message})", e);
        }
        var lines = text.Trim().Split('\n');
        var merges = new List<string>(Math.Min(lines.Length, MaxMerges));
        var first = lines.Length > 0 && lines[0].StartsWith("#version", StringComparison.Ordinal) ? 1 : 0;
        for (var i = first; i < lines.Length && merges.Count < MaxMerges; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new InvalidInputException($"{path}:{i + 1}: expected a merge 'a b' (two symbols, one space), found '{Shorten(line)}'");
            foreach (var symbol in new[] { parts[0], parts[1], parts[0] + parts[1] })
            {
                if (!vocab.ContainsKey(symbol))
                    throw new InvalidInputException($"{path}:{i + 1}: merge '{Shorten(line)}' uses '{Shorten(symbol)}', which is not in {VocabFileName}");
            }
            merges.Add(line);
        }
        if (merges.Count == 0) throw new InvalidInputException($"{path}: no merges found");
        return merges;
    }

    private static string Shorten(string s) => s.Length > 40 ? s[..37] + "..." : s;

    /// <summary>
    /// The inverse of GPT-2/CLIP's <c>bytes_to_unicode</c>: printable Latin-1 bytes stand for themselves, the other 68 bytes
    /// for U+0100 onwards, in byte order.
    /// </summary>
    private static Dictionary<char, byte> BuildByteDecoder()
    {
        var map = new Dictionary<char, byte>(256);
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[(char)(printable ? b : next++)] = (byte)b;
        }
        return map;
    }
}
