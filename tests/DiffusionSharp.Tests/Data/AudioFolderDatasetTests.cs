using DiffusionSharp.Audio;
using DiffusionSharp.Data;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Data;

/// <summary>Audio folders (Hugging Face audiofolder layout) and the bundled spoken digits as [C, L] datasets.</summary>
public sealed class AudioFolderDatasetTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Wav(string name, int rate, params float[][] channels) =>
        WavFile.Write(Path.Combine(_dir, name), new WavAudio(rate, channels, WavSampleFormat.Float32));

    private void Metadata(params string[] lines) => File.WriteAllLines(Path.Combine(_dir, "metadata.jsonl"), lines);

    [Fact]
    public void Should_OpenTheBundledSpokenDigits_When_DataIsNamedSpokenDigits()
    {
        var data = new DataSpec(DataSpec.SpokenDigits).OpenAudio(8000, 1, 8192);
        Assert.Equal(2000, data.Count);
        Assert.Equal([1, 8192], data.SampleShape);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i.ToString()), data.ClassNames);
        // The bundled copy (beside the app, or the repository's data/), never ../shared.
        Assert.EndsWith(Path.Combine("data", "spoken-digits"), data.Root);
        Assert.DoesNotContain(TestPaths.Shared, Path.GetFullPath(data.Root));
        var index = data.Files.ToList().IndexOf(Path.Combine("wav", "3_017.wav"));
        Assert.True(index >= 0);
        var samples = new float[8192];
        var labels = new long[1];
        data.FillBatch([index], samples, labels);
        Assert.Equal(3, labels[0]);
        Assert.Equal(WavFile.Read(Path.Combine(data.Root, "wav", "3_017.wav")).Channels[0], samples);
    }

    [Fact]
    public void Should_MapStringLabelsInOrdinalOrderAndFitEveryClip_When_FolderHasMetadata()
    {
        Wav("a.wav", 8000, [0.5f, 0.5f], [0.1f, -0.1f]);
        Wav("b.wav", 8000, [0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f]);
        Metadata("{\"file_name\": \"a.wav\", \"label\": \"dog\"}", "", "{\"file_name\": \"b.wav\", \"label\": \"cat\"}");
        var data = AudioFolderDataset.Open(_dir, 8000, 1, 4);
        Assert.Equal(["cat", "dog"], data.ClassNames);
        var samples = new float[8];
        var labels = new long[2];
        data.FillBatch([0, 1], samples, labels);
        Assert.Equal([1L, 0L], labels);
        // a.wav: stereo mixed down and padded; b.wav: cropped.
        Assert.Equal([0.3f, 0.2f, 0f, 0f, 0.2f, 0.2f, 0.2f, 0.2f], samples.Select(v => MathF.Round(v, 6)));
    }

    [Fact]
    public void Should_ReadTheMetadata_When_TheFolderIsGivenWithATrailingSlash()
    {
        // diffuse eval samples/ (as a shell completes a folder name) once refused every file_name as outside the folder
        Wav("a.wav", 8000, [0.5f, 0.5f]);
        Metadata("{\"file_name\": \"a.wav\", \"label\": 3}");
        var data = AudioFolderDataset.Open(_dir + Path.DirectorySeparatorChar, 8000, 1, 2);
        Assert.Equal(["a.wav"], data.Files);
        Assert.Equal(["3"], data.ClassNames);
    }

    [Fact]
    public void Should_ListWavsUnlabelled_When_ThereIsNoMetadata()
    {
        Wav("z.wav", 8000, [0.1f]);
        Directory.CreateDirectory(Path.Combine(_dir, "sub"));
        Wav(Path.Combine("sub", "y.wav"), 8000, [0.2f]);
        var data = AudioFolderDataset.Open(_dir, 8000, 1, 1);
        Assert.Equal([Path.Combine("sub", "y.wav"), "z.wav"], data.Files);
        Assert.Equal(0, data.NumClasses);
    }

    [Theory]
    [InlineData("{\"file_name\": \"a.wav\", \"label\": 1}|not json", "metadata.jsonl:2: not a JSON object")]
    [InlineData("{\"file_name\": \"a.wav\", \"label\": 1}|{\"file_name\": \"gone.wav\", \"label\": 2}", "metadata.jsonl:2: gone.wav does not exist")]
    [InlineData("{\"file_name\": \"a.wav\", \"label\": 1}|{\"file_name\": \"b.wav\", \"label\": \"x\"}", "metadata.jsonl:2: label \"x\" is not an integer")]
    [InlineData("{\"file_name\": \"a.wav\"}|{\"file_name\": \"b.wav\", \"label\": 4}", "metadata.jsonl:1: no \"label\" value")]
    [InlineData("{\"file_name\": \"../a.wav\", \"label\": 1}", "metadata.jsonl:1: file_name \"../a.wav\" is not a path inside")]
    [InlineData("{\"label\": 1}", "metadata.jsonl:1: no \"file_name\" string")]
    public void Should_NameFileAndLine_When_MetadataIsBad(string lines, string expected)
    {
        Wav("a.wav", 8000, [0.1f]);
        Wav("b.wav", 8000, [0.1f]);
        Metadata(lines.Split('|'));
        var e = Assert.Throws<InvalidInputException>(() => AudioFolderDataset.Open(_dir, 8000, 1, 1));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith(_dir, e.Message);
    }

    [Fact]
    public void Should_RefuseTheImageOpener_When_DataIsSpokenDigits()
    {
        var e = Assert.Throws<InvalidInputException>(() => new DataSpec(DataSpec.SpokenDigits).Open(28));
        Assert.Contains("spoken-digits is audio", e.Message);
    }
}
