namespace DiffusionSharp.Text;

/// <summary>A prompt that was longer than the tokenizer's rows hold and lost its end (diffusers logs the same as a warning).</summary>
/// <param name="Index">The prompt's position in the batch.</param>
/// <param name="TokenCount">Its number of BPE tokens before truncation (without bos/eos).</param>
/// <param name="KeptTokens">How many of them were kept.</param>
/// <param name="DroppedText">The decoded text of the dropped tokens.</param>
public sealed record PromptTruncation(int Index, int TokenCount, int KeptTokens, string DroppedText)
{
    /// <summary>A one-line warning a caller can show, worded like diffusers' log message.</summary>
    public string Message =>
        $"prompt {Index}: {TokenCount} tokens, only {KeptTokens} fit; this part was truncated: \"{DroppedText.Trim()}\"";
}
