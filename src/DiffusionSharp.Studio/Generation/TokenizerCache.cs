using DiffusionSharp.Text;

namespace DiffusionSharp.Studio.Generation;

/// <summary>
/// The tokenizers of the text-to-image models asked for, so a request handler can count a prompt's tokens before the
/// generation is queued (a prompt too long is then a plain 400 answer, not an error event in the stream). Tokenizers are
/// plain .NET (no tensors); the last few are kept, reloaded when their files change.
/// </summary>
internal sealed class TokenizerCache(int capacity)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<(string Key, ClipTokenizer Tokenizer)> _entries = new();

    /// <summary>Checks the request's prompts against the tokenizer of <paramref name="pipelineFolder"/> (<see cref="GenerateRequest.CheckPromptTokens"/>), one request at a time.</summary>
    /// <exception cref="InvalidInputException">A prompt too long, or missing or malformed tokenizer files.</exception>
    public void CheckPrompts(string pipelineFolder, GenerateRequest request)
    {
        var tokenizer = Get(pipelineFolder);
        lock (_lock) request.CheckPromptTokens(tokenizer);
    }

    /// <summary>The tokenizer of a Stable Diffusion pipeline folder (its <c>tokenizer/</c>).</summary>
    /// <exception cref="InvalidInputException">Missing or malformed tokenizer files.</exception>
    private ClipTokenizer Get(string pipelineFolder)
    {
        string folder = Path.Combine(pipelineFolder, "tokenizer");
        string key = string.Join('|', (Directory.Exists(folder) ? Directory.EnumerateFiles(folder) : []).Order(StringComparer.Ordinal)
            .Select(f => new FileInfo(f)).Select(f => $"{f.Name}:{f.Length}:{f.LastWriteTimeUtc.Ticks}").Prepend(Path.GetFullPath(folder)));
        lock (_lock)
        {
            foreach (var (k, tokenizer) in _entries)
                if (k == key) return tokenizer;
        }
        var loaded = ClipTokenizer.FromPretrained(folder);
        lock (_lock)
        {
            _entries.AddFirst((key, loaded));
            while (_entries.Count > capacity) _entries.RemoveLast();
        }
        return loaded;
    }
}
