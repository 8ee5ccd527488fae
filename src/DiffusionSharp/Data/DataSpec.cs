using DiffusionSharp.Audio;
using DiffusionSharp.Imaging;

namespace DiffusionSharp.Data;

/// <summary>
/// Where training images come from, as given on the command line, so that a resumed run reopens the same data:
/// <c>mnist</c> (the bundled 10,000 digits), <c>emoji</c> (the bundled 3,655 emoji, an <c>imagefolder</c> with
/// <c>metadata.jsonl</c>), an image folder, or an IDX images file.
/// </summary>
/// <param name="Source"><c>mnist</c>, <c>emoji</c>, a folder of images, or an IDX file (<c>.gz</c> or raw).</param>
/// <param name="ImageSize">Side length images from a folder are resized and centre-cropped to; null = the model's sample_size.</param>
/// <param name="Grayscale">Read folder images as one channel.</param>
/// <param name="Strict">Stop at the first unreadable image instead of skipping it.</param>
/// <param name="Labels">An IDX labels file to go with an IDX images file.</param>
/// <param name="RandomFlip">Flip images horizontally at random while training (not for digits).</param>
/// <param name="LabelColumn">The <c>metadata.jsonl</c> column that gives the classes (e.g. the emoji's <c>group</c>); null = none.</param>
/// <param name="Background">The colour transparent pixels are composited onto, as <see cref="RgbColor.Parse"/> reads it; null = white.</param>
/// <param name="SeriesLayout">Set when <see cref="Source"/> is a CSV file of time series (<see cref="TimeSeriesDataset"/>): a series per row or per column.</param>
/// <param name="SeriesHeader">With <see cref="SeriesLayout"/>: the CSV's first line names the series or time steps and is not data.</param>
/// <param name="PromptColumn">The <c>metadata.jsonl</c> column whose values are the prompts of text-conditioned training (e.g. <c>text</c>); null = none.</param>
public sealed record DataSpec(string Source, int? ImageSize = null, bool Grayscale = false, bool Strict = false, string? Labels = null,
    bool RandomFlip = false, string? LabelColumn = null, string? Background = null, TimeSeriesLayout? SeriesLayout = null, bool SeriesHeader = false,
    string? PromptColumn = null)
{
    /// <summary>Whether <see cref="Source"/> is a CSV file of time series (<see cref="SeriesLayout"/> is set).</summary>
    public bool IsSeries => SeriesLayout is not null;

    /// <summary>Whether <paramref name="source"/> names a CSV file (by its extension), which the command line reads as time series.</summary>
    public static bool IsCsvFile(string source) => source.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);

    /// <summary>Opens the CSV file of time series this spec names.</summary>
    /// <exception cref="InvalidInputException">Not a series spec, a missing file, or a bad line (file:line and column).</exception>
    public TimeSeriesDataset OpenSeries()
    {
        if (SeriesLayout is not { } layout) throw InvalidInputException.For<DataSpec>(nameof(SeriesLayout), $": {Source} is not opened as time series (no layout)");
        return TimeSeriesDataset.FromCsv(Source, layout, SeriesHeader);
    }

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the prompt column.</summary>
    public const string PromptColumnProperty = "DataSpec.PromptColumn";

    /// <summary>
    /// The prompt of every image of <paramref name="images"/> (opened from this spec), from the <see cref="PromptColumn"/> of its
    /// <c>metadata.jsonl</c>, in dataset order.
    /// </summary>
    /// <exception cref="InvalidInputException">No prompt column is set, the images are not an image folder with metadata, the
    /// column is missing, or a row has no value for it.</exception>
    public IReadOnlyList<string> ReadPrompts(IImageDataset images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (PromptColumn is not { } column) throw InvalidInputException.For<DataSpec>(nameof(PromptColumn), " is not set");
        if (images is not ImageFolderDataset folder)
            throw InvalidInputException.For<DataSpec>(nameof(PromptColumn), $" '{column}': {Source} is not an image folder with {ImageFolderMetadata.FileName}, so it has no prompts");
        return folder.ReadColumn(column, PromptColumnProperty);
    }

    /// <summary>The name that selects the bundled MNIST digits.</summary>
    public const string Mnist = "mnist";

    /// <summary>The name that selects the bundled spoken digits (audio: 8,192 samples at 8 kHz, ten classes).</summary>
    public const string SpokenDigits = "spoken-digits";

    /// <summary>Whether <see cref="Source"/> names audio (the bundled spoken digits, or a folder with WAV files and no images).</summary>
    public bool IsAudio => string.Equals(Source, SpokenDigits, StringComparison.OrdinalIgnoreCase);

    /// <summary>Opens an audio dataset: <c>spoken-digits</c> or a folder of WAV files (see <see cref="AudioFolderDataset"/>).</summary>
    /// <param name="sampleRate">The model's rate in Hz.</param>
    /// <param name="channels">The model's channels.</param>
    /// <param name="length">The model's length in samples.</param>
    /// <param name="mode">Mix channels down or keep them.</param>
    /// <exception cref="InvalidInputException">The source is not an audio folder, or a file in it is bad.</exception>
    public AudioFolderDataset OpenAudio(int sampleRate, int channels, int length, AudioChannelMode mode = AudioChannelMode.MixDown)
    {
        var folder = IsAudio ? BundledData.SpokenDigitsDirectory : Source;
        if (!Directory.Exists(folder)) throw InvalidInputException.For<DataSpec>(nameof(Source), $": {Source} is neither '{SpokenDigits}' nor a folder of WAV files");
        return AudioFolderDataset.Open(folder, sampleRate, channels, length, mode, LabelColumn ?? "label");
    }

    /// <summary>Opens the dataset.</summary>
    /// <param name="defaultSize">The side length for image folders when <see cref="ImageSize"/> is not set.</param>
    /// <exception cref="InvalidInputException">The source does not exist, is empty, or is not a dataset; a label column or background that does not fit it.</exception>
    public IImageDataset Open(int defaultSize)
    {
        var background = Background is null ? (RgbColor?)null : RgbColor.Parse(Background, "DataSpec.Background");
        string? folder = string.Equals(Source, BundledData.EmojiName, StringComparison.OrdinalIgnoreCase) ? BundledData.EmojiDirectory
            : string.Equals(Source, Mnist, StringComparison.OrdinalIgnoreCase) || !Directory.Exists(Source) ? null
            : Source;
        if (folder is not null) return ImageFolderDataset.Open(folder, ImageSize ?? defaultSize, Grayscale, Strict, LabelColumn, background);
        if (LabelColumn is not null)
            throw InvalidInputException.For<DataSpec>(nameof(LabelColumn), $" '{LabelColumn}': {Source} is not an image folder with {ImageFolderMetadata.FileName}");
        if (string.Equals(Source, Mnist, StringComparison.OrdinalIgnoreCase)) return IdxDataset.Mnist();
        if (IsAudio)
            throw InvalidInputException.For<DataSpec>(nameof(Source), $": {Source} is audio ([1, 8192] clips at 8 kHz); image models cannot train on it (train an audio model such as audio-small)");
        if (File.Exists(Source))
        {
            if (Labels is not null && !File.Exists(Labels)) throw InvalidInputException.For<DataSpec>(nameof(Labels), $": {Labels} does not exist");
            return IdxDataset.Open(Source, Labels);
        }
        throw InvalidInputException.For<DataSpec>(nameof(Source), $": {Source} is neither 'mnist', 'emoji', an image folder nor an IDX file");
    }
}
