namespace DiffusionSharp.Data;

/// <summary>
/// Finds the data shipped with DiffusionSharp at run time (the 10,000 MNIST test digits under <c>data/mnist</c>, the
/// 3,655 captioned emoji under <c>data/emoji</c>, the 2,000 spoken digits under <c>data/spoken-digits</c>): first beside
/// the application (<c>&lt;app&gt;/data/...</c>, where the CLI build copies them), then in each parent folder of the
/// application (a repository checkout).
/// </summary>
public static class BundledData
{
    /// <summary>File name of the bundled MNIST images (IDX3, gzip).</summary>
    public const string MnistImagesFileName = "mnist-10k-images-idx3-ubyte.gz";

    /// <summary>File name of the bundled MNIST labels (IDX1, gzip).</summary>
    public const string MnistLabelsFileName = "mnist-10k-labels-idx1-ubyte.gz";

    /// <summary>The name that selects the bundled emoji (<c>--data emoji</c>).</summary>
    public const string EmojiName = "emoji";

    private static readonly Lazy<string?> FoundEmojiDirectory = new(() => FindEmojiDirectory(AppContext.BaseDirectory));

    private static readonly Lazy<string?> FoundMnistDirectory = new(() => FindMnistDirectory(AppContext.BaseDirectory));

    /// <summary>The folder holding both bundled MNIST files.</summary>
    /// <exception cref="InvalidInputException">No <c>data/mnist</c> with both files beside or above the application.</exception>
    public static string MnistDirectory => FoundMnistDirectory.Value
        ?? throw new InvalidInputException(
            $"bundled MNIST not found: expected data/mnist/{MnistImagesFileName} beside or above {AppContext.BaseDirectory}");

    /// <summary>Full path of the bundled MNIST images.</summary>
    public static string MnistImagesPath => Path.Combine(MnistDirectory, MnistImagesFileName);

    /// <summary>Full path of the bundled MNIST labels.</summary>
    public static string MnistLabelsPath => Path.Combine(MnistDirectory, MnistLabelsFileName);

    /// <summary>The bundled spoken-digits folder (WAV files and <c>metadata.jsonl</c>, an <see cref="AudioFolderDataset"/>).</summary>
    /// <exception cref="InvalidInputException">No <c>data/spoken-digits</c> with its metadata beside or above the application.</exception>
    public static string SpokenDigitsDirectory => FoundSpokenDigitsDirectory.Value
        ?? throw new InvalidInputException(
            $"bundled spoken digits not found: expected data/spoken-digits/{AudioFolderDataset.MetadataFileName} beside or above {AppContext.BaseDirectory}");

    private static readonly Lazy<string?> FoundSpokenDigitsDirectory = new(() => FindSpokenDigitsDirectory(AppContext.BaseDirectory));

    /// <summary>The first <c>data/spoken-digits</c> holding a <c>metadata.jsonl</c>, looking in <paramref name="startDirectory"/> and its parents; null when none.</summary>
    public static string? FindSpokenDigitsDirectory(string startDirectory) =>
        FindUp(startDirectory, Path.Combine("data", "spoken-digits"), AudioFolderDataset.MetadataFileName);

    /// <summary>
    /// The first <c>data/mnist</c> holding both bundled files, looking in <paramref name="startDirectory"/> and then each
    /// of its parents; null when there is none.
    /// </summary>
    public static string? FindMnistDirectory(string startDirectory)
    {
        return FindUp(startDirectory, Path.Combine("data", "mnist"), MnistImagesFileName, MnistLabelsFileName);
    }

    private static string? FindUp(string startDirectory, string relative, params string[] required)
    {
        ArgumentNullException.ThrowIfNull(startDirectory);
        for (var dir = new DirectoryInfo(Path.GetFullPath(startDirectory)); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (required.All(f => File.Exists(Path.Combine(candidate, f)))) return candidate;
        }
        return null;
    }

    /// <summary>
    /// The bundled CLIP tokenizer (<c>data/clip-tokenizer</c>: openai/CLIP's vocabulary and merges in transformers' layout, MIT
    /// licensed), the tokenizer of text-conditioned training.
    /// </summary>
    /// <exception cref="InvalidInputException">No <c>data/clip-tokenizer</c> with <c>vocab.json</c> and <c>merges.txt</c> beside or above the application.</exception>
    public static string ClipTokenizerDirectory => FoundClipTokenizerDirectory.Value
        ?? throw new InvalidInputException(
            $"bundled CLIP tokenizer not found: expected data/clip-tokenizer/vocab.json and merges.txt beside or above {AppContext.BaseDirectory}");

    private static readonly Lazy<string?> FoundClipTokenizerDirectory = new(() => FindClipTokenizerDirectory(AppContext.BaseDirectory));

    /// <summary>The first <c>data/clip-tokenizer</c> holding <c>vocab.json</c> and <c>merges.txt</c>, looking in <paramref name="startDirectory"/> and its parents; null when none.</summary>
    public static string? FindClipTokenizerDirectory(string startDirectory) =>
        FindUp(startDirectory, Path.Combine("data", "clip-tokenizer"), "vocab.json", "merges.txt");

    /// <summary>
    /// The folder of the bundled emoji: 3,655 64 x 64 RGB PNGs in the <c>imagefolder</c> layout (<c>metadata.jsonl</c>
    /// with <c>file_name</c>, <c>text</c>, <c>group</c>, <c>subgroup</c>; see its README.md and licence files).
    /// </summary>
    /// <exception cref="InvalidInputException">No <c>data/emoji/metadata.jsonl</c> beside or above the application.</exception>
    public static string EmojiDirectory => FoundEmojiDirectory.Value
        ?? throw new InvalidInputException(
            $"bundled emoji not found: expected data/emoji/{ImageFolderMetadata.FileName} beside or above {AppContext.BaseDirectory}");

    /// <summary>
    /// The first <c>data/emoji</c> holding a <c>metadata.jsonl</c>, looking in <paramref name="startDirectory"/> and then
    /// each of its parents; null when there is none.
    /// </summary>
    public static string? FindEmojiDirectory(string startDirectory)
    {
        ArgumentNullException.ThrowIfNull(startDirectory);
        for (var dir = new DirectoryInfo(Path.GetFullPath(startDirectory)); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "data", EmojiName);
            if (File.Exists(Path.Combine(candidate, ImageFolderMetadata.FileName))) return candidate;
        }
        return null;
    }
}
