using DiffusionSharp.Audio;
using DiffusionSharp.Imaging;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;
using SkiaSharp;
using Xunit;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse train</c> and <c>sample</c> on audio: a class-conditional audio-small run on a tiny WAV folder, and the bad-input rules.</summary>
public sealed class AudioCliTests : IDisposable
{
    private const int Rate = 8000, Length = 256;

    private readonly string _dir = TestPaths.NewTempDir();

    public AudioCliTests()
    {
        // Four 300-sample clips at 8 kHz, two classes (a low and a high tone), in the metadata.jsonl convention
        Folder = Path.Combine(_dir, "clips");
        Directory.CreateDirectory(Folder);
        var rows = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var hz = i % 2 == 0 ? 300.0 : 1200.0;
            var samples = Enumerable.Range(0, 300).Select(n => (float)(0.5 * Math.Sin(2 * Math.PI * hz * n / Rate))).ToArray();
            WavFile.Write(Path.Combine(Folder, $"{i}.wav"), new WavAudio(Rate, [samples]));
            rows.Add($$"""{"file_name": "{{i}}.wav", "label": "{{(i % 2 == 0 ? "low" : "high")}}"}""");
        }
        File.WriteAllLines(Path.Combine(Folder, "metadata.jsonl"), rows);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Folder { get; }

    private static void AssertBadInput(CliRunner.Result r, string mustMention)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.StdErr);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(mustMention, lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    private static void AssertWav(string path)
    {
        var audio = WavFile.Read(path);
        Assert.Equal(Rate, audio.SampleRate);
        Assert.Equal(Length, audio.Length);
        Assert.Single(audio.Channels);
        Assert.Equal(WavSampleFormat.Pcm16, audio.Format);
    }

    private static void AssertPicture(string png, int clips, int columns)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        Assert.Equal(columns * (WaveformPicture.CellWidth + 4) + 4, bitmap.Width);
        var rows = (clips + columns - 1) / columns;
        Assert.Equal(rows * (WaveformPicture.WaveHeight + 4 + WaveformPicture.SpectrogramHeight + 4) + 4, bitmap.Height);
    }

    [Fact]
    public void Should_train_class_conditional_audio_then_sample_wavs_of_one_class_with_guidance()
    {
        // Given a 2-step class-conditional audio-small run on the fixture at --length 256, on twice the waveform
        var run = Path.Combine(_dir, "run");
        var train = CliRunner.Run("train", "--data", Folder, "--model", "audio-small", "--length", $"{Length}", "--class-conditional",
            "--steps", "2", "--batch", "2", "--warmup", "1", "--checkpoint-every", "0", "--sample-count", "3", "--sample-steps", "2",
            "--data-scale", "2", "--threads", "1", "--out", run);

        // Then the run folder holds a DiffusionSharpUNet1D with the classes + null class, a picture with one column per class, and WAVs
        Assert.True(train.ExitCode == 0, train.StdErr);
        var config = File.ReadAllText(Path.Combine(run, "unet", "config.json"));
        Assert.Contains("\"_class_name\": \"DiffusionSharpUNet1D\"", config);
        Assert.Contains("\"num_class_embeds\": 3", config);
        Assert.Contains($"\"sample_size\": {Length}", config);
        Assert.Contains("\"data_scale\": 2", config);
        Assert.Equal(["high", "low"], ClassNamesFile.Read(run));
        AssertPicture(Path.Combine(run, "samples", "step-0000002.png"), clips: 4, columns: 2);
        var wavs = Directory.GetFiles(Path.Combine(run, "samples", "step-0000002"), "*.wav").Order().ToArray();
        Assert.Equal(4, wavs.Length);
        foreach (var wav in wavs) AssertWav(wav);

        // When one class is sampled with guidance, one WAV per sample
        var picture = Path.Combine(_dir, "low.png");
        var individual = Path.Combine(_dir, "low");
        var sample = CliRunner.Run("sample", "--model", run, "--ema", "--class", "low", "--guidance", "2", "--sampler", "ddim",
            "--steps", "2", "--count", "3", "--individual", individual, "--threads", "1", "--out", picture);

        // Then the picture and three readable 16-bit WAVs at the model's rate are written
        Assert.True(sample.ExitCode == 0, sample.StdErr);
        AssertPicture(picture, clips: 3, columns: 2);
        var written = Directory.GetFiles(individual, "*.wav");
        Assert.Equal(3, written.Length);
        foreach (var wav in written) AssertWav(wav);
        // And a metadata.jsonl records the class each clip was asked for, so the folder reads back as labelled audio
        var labelled = DiffusionSharp.Data.AudioFolderDataset.Open(individual, Rate, 1, Length);
        Assert.Equal(["00000.wav", "00001.wav", "00002.wav"], labelled.Files);
        Assert.Equal(["low"], labelled.ClassNames);

    }

    [Fact]
    public void Should_draw_the_reverse_process_of_audio_as_spectrograms_in_training_and_sampling()
    {
        // Given a 2-step class-conditional audio-small run at --length 1024 (13 spectrogram frames)
        var run = Path.Combine(_dir, "run");
        var train = CliRunner.Run("train", "--data", Folder, "--model", "audio-small", "--length", "1024", "--class-conditional",
            "--steps", "2", "--batch", "2", "--warmup", "1", "--checkpoint-every", "0", "--sample-count", "2", "--sample-steps", "3",
            "--threads", "1", "--out", run);
        Assert.True(train.ExitCode == 0, train.StdErr);

        // Then training drew the filmstrip at the end, like image runs: its 2 samples' x_t and x_0 rows of 128-bin spectrograms
        AssertFilmstrip(Path.Combine(run, "samples", "reverse-process.png"), rows: 4, columns: 3);

        // When the filmstrip is asked of diffuse sample with a class and guidance, and without
        var withClass = Path.Combine(_dir, "film-low.png");
        var guided = CliRunner.Run("sample", "--model", run, "--ema", "--class", "low", "--guidance", "2", "--sampler", "ddim",
            "--steps", "4", "--count", "2", "--trajectory", withClass, "--frames", "3", "--threads", "1", "--out", Path.Combine(_dir, "low.png"));
        var plain = Path.Combine(_dir, "film.png");
        var unguided = CliRunner.Run("sample", "--model", run, "--sampler", "ddpm", "--steps", "5", "--count", "3", "--trajectory", plain,
            "--trajectory-samples", "1", "--threads", "1", "--out", Path.Combine(_dir, "all.png"));

        // Then both are written, with one row pair per sample drawn and one column per shown step
        Assert.True(guided.ExitCode == 0, guided.StdErr);
        Assert.Contains("reverse process as spectrograms", guided.StdOut);
        AssertFilmstrip(withClass, rows: 4, columns: 3);
        Assert.True(unguided.ExitCode == 0, unguided.StdErr);
        AssertFilmstrip(plain, rows: 2, columns: 5);
    }

    /// <summary>A filmstrip of spectrogram cells (128 bins high, 13 frames repeated to 65 columns) at least this many rows and columns big.</summary>
    private static void AssertFilmstrip(string png, int rows, int columns)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        var (cellHeight, cellWidth) = (WaveformPicture.SpectrogramHeight + 4, 65 + 4);
        // The title and labels add a band above and a margin left; a cell more in either direction would not fit
        Assert.InRange(bitmap.Height, rows * cellHeight, (rows + 1) * cellHeight - 1);
        Assert.InRange(bitmap.Width - columns * cellWidth, 0, 1200);
    }

    [Theory]
    [InlineData("--resolution 32", "--resolution: --model audio-small is an audio model")]
    [InlineData("--length 100", "--length 100: expected a positive multiple of 64")]
    [InlineData("--length 256 --grayscale", "--grayscale, --flip, --background and --labels apply to images")]
    [InlineData("--length 256 --class-conditional --label-column speaker", "--class-conditional: --data")]
    [InlineData("--length 256 --data-scale 0", "--data-scale 0: expected auto or a number in (0, 1000]")]
    [InlineData("--length 256 --data-scale five", "--data-scale five: expected auto or a number in (0, 1000]")]
    public void Should_reject_bad_audio_input_in_one_line_before_writing(string options, string mention)
    {
        var outDir = Path.Combine(_dir, "bad-run");
        AssertBadInput(CliRunner.Run(["train", "--data", Folder, "--model", "audio-small", "--steps", "1", "--threads", "1", .. options.Split(' '), "--out", outDir]), mention);
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any(), "nothing may be written on bad input");
    }

    [Fact]
    public void Should_set_the_data_scale_to_half_over_the_clips_standard_deviation_when_it_is_auto()
    {
        // Given clips of a square wave of amplitude 0.25 and mean 0 (standard deviation 0.25, so the auto scale is 2)
        var square = Path.Combine(_dir, "square");
        Directory.CreateDirectory(square);
        for (var i = 0; i < 3; i++)
            WavFile.Write(Path.Combine(square, $"{i}.wav"), new WavAudio(Rate, [Enumerable.Range(0, 64).Select(n => n % 2 == 0 ? 0.25f : -0.25f).ToArray()], WavSampleFormat.Float32));

        // When a 1-step run is started with --data-scale auto
        var run = Path.Combine(_dir, "auto");
        var r = CliRunner.Run("train", "--data", square, "--model", "audio-small", "--length", "64", "--data-scale", "auto", "--steps", "1",
            "--batch", "2", "--warmup", "0", "--checkpoint-every", "0", "--sample-count", "1", "--sample-steps", "1", "--threads", "1", "--out", run);

        // Then it says so and the model's config records 2
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("data scale 2: 0.5 / the clips' standard deviation 0.2500", r.StdOut.Replace("\n", " "));
        Assert.Contains("\"data_scale\": 2", File.ReadAllText(Path.Combine(run, "unet", "config.json")));
    }

    [Fact]
    public void Should_point_image_models_at_an_audio_model_when_the_data_is_audio()
    {
        AssertBadInput(CliRunner.Run("train", "--data", "spoken-digits", "--model", "mnist-tiny", "--steps", "1", "--threads", "1", "--out", Path.Combine(_dir, "r")),
            "image models cannot train on it (train an audio model such as audio-small)");
        AssertBadInput(CliRunner.Run("train", "--data", "mnist", "--model", "mnist-nano", "--data-scale", "5", "--steps", "1", "--threads", "1", "--out", Path.Combine(_dir, "r")),
            "--data-scale applies to audio models only (--model mnist-nano is an image model)");
    }
    [Fact]
    public void Should_describe_audio_presets_and_configs_in_model_info()
    {
        // Given a patch-8 DiffusionSharpUNet1D config.json of the user's own
        var config = Path.Combine(_dir, "p8.json");
        File.WriteAllText(config, (DiffusionSharp.Models.AudioModelPresets.AudioPatch4 with { PatchSize = 8, BlockOutChannels = [32, 64, 64] }).ToJson());

        foreach (var (model, expected) in new[] { ("audio-patch4", DiffusionSharp.Models.AudioModelPresets.AudioPatch4), (config, DiffusionSharp.Models.AudioUNet1DConfig.Load(config)) })
        {
            // When model info reads it
            var r = CliRunner.Run("model", "info", "--threads", "1", "--model", model, "--json");

            // Then it counts the parameters of the network the config builds, and the sample is one channel of 8,192 samples
            Assert.True(r.ExitCode == 0, r.StdErr);
            using var doc = System.Text.Json.JsonDocument.Parse(r.StdOut);
            using var network = new DiffusionSharp.Models.AudioUNet1DModel(expected);
            Assert.Equal(network.parameters().Sum(p => p.numel()), doc.RootElement.GetProperty("parameters").GetInt64());
            Assert.Equal([1, 8192], doc.RootElement.GetProperty("sample_shape").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal(expected.PatchSize, doc.RootElement.GetProperty("config").GetProperty("patch_size").GetInt32());
            Assert.InRange(doc.RootElement.GetProperty("forward_gflops_per_image").GetDouble(), 0.01, 5);
        }

        // And a name that is no preset and no file lists the audio presets too
        AssertBadInput(CliRunner.Run("model", "info", "--threads", "1", "--model", "audio-huge"), "audio-patch4");
    }
}
