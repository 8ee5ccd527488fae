using System.Text.Json;

namespace DiffusionSharp.IO;

/// <summary>
/// Limits for the small JSON files DiffusionSharp reads (<c>config.json</c>, <c>scheduler_config.json</c>, a checkpoint's
/// <c>state.json</c>): a corrupt or hostile file fails as bad input naming the file, instead of exhausting memory or the stack.
/// </summary>
public static class JsonFile
{
    /// <summary>Largest JSON file accepted: real configs are a few KB (a trained_betas list of 10,000 values is about 200 KB).</summary>
    public const long MaxBytes = 4L * 1024 * 1024;

    /// <summary>Deepest nesting accepted; diffusers configs nest two levels.</summary>
    public const int MaxDepth = 16;

    /// <summary>Parser options with <see cref="MaxDepth"/>, no comments, no trailing commas.</summary>
    public static JsonDocumentOptions DocumentOptions => new() { MaxDepth = MaxDepth };

    /// <summary>The text of <paramref name="path"/>, refusing a missing, unreadable or oversized file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="what">What the file is, for the message (e.g. "config file").</param>
    /// <exception cref="InvalidInputException">The file is missing, unreadable, or larger than <see cref="MaxBytes"/>.</exception>
    public static string ReadText(string path, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new InvalidInputException($"{path}: {what} not found");
            if (info.Length > MaxBytes)
                throw new InvalidInputException($"{path}: {what} is {info.Length} bytes; at most {MaxBytes} are accepted (not a config file?)");
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"{path}: cannot read the {what} ({e.Message})", e);
        }
    }

    /// <summary>Refuses JSON text longer than <see cref="MaxBytes"/> characters before it is parsed.</summary>
    /// <exception cref="InvalidInputException">The text is too long.</exception>
    public static void CheckLength(string json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxBytes)
            throw new InvalidInputException($"{source}: JSON text of {json.Length} characters; at most {MaxBytes} are accepted");
    }
}
