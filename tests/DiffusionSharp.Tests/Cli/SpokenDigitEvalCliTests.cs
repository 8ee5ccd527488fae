using System.Globalization;
using System.Text.Json;
using DiffusionSharp.Audio;
using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using DiffusionSharp.IO;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse eval</c> on folders of WAVs with the shipped spoken-digit classifier, and its bad-input rules.</summary>
public sealed class SpokenDigitEvalCliTests : IDisposable
{
    private static readonly string ShippedFolder = Path.Combine(TestPaths.RepoRoot, "models", "spoken-digit-classifier");
    private static readonly string Digits = Path.Combine(TestPaths.RepoRoot, "data", "spoken-digits");

    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void AssertBadInput(CliRunner.Result r, string mustMention)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.StdErr);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(mustMention, lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    /// <summary>The bundled clips' file names and labels, in metadata.jsonl order.</summary>
    private static (string File, int Label)[] Bundled() =>
        File.ReadLines(Path.Combine(Digits, "metadata.jsonl")).Select(l =>
        {
            var row = JsonDocument.Parse(l).RootElement;
            return (row.GetProperty("file_name").GetString()!, row.GetProperty("label").GetInt32());
        }).ToArray();

    [Fact]
    public void Should_score_the_held_out_clips_at_zero_distance_and_their_recorded_accuracy()
    {
        // Given a folder holding the shipped classifier's 400 held-out clips, labelled as sample --individual labels them
        var metadata = SafetensorsFile.ReadHeader(Path.Combine(ShippedFolder, "model.safetensors")).Metadata;
        var rows = Bundled();
        var split = StratifiedSplit.Create(rows.Select(r => (long)r.Label).ToArray(),
            double.Parse(metadata["held_out_fraction"], CultureInfo.InvariantCulture), long.Parse(metadata["seed"], CultureInfo.InvariantCulture));
        var folder = Path.Combine(_dir, "held-out");
        Directory.CreateDirectory(folder);
        var names = new List<string>();
        foreach (var i in split.HeldOut)
        {
            var name = Path.GetFileName(rows[i].File);
            File.Copy(Path.Combine(Digits, rows[i].File), Path.Combine(folder, name));
            names.Add(name);
        }
        AudioFolderMetadata.Write(folder, names, split.HeldOut.Select(i => rows[i].Label.ToString(CultureInfo.InvariantCulture)).ToArray());

        // When diffuse eval scores the folder with the default (shipped) classifier, named with a trailing slash
        var r = CliRunner.Run("eval", folder + Path.DirectorySeparatorChar, "--json", "--threads", "2");

        // Then the Fréchet distance against the held-out clips is 0 (they are those clips) and the accuracy is the recorded one
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var json = JsonDocument.Parse(r.StdOut);
        var root = json.RootElement;
        Assert.Equal(400, root.GetProperty("samples").GetInt32());
        Assert.Equal(400, root.GetProperty("reference_clips").GetInt32());
        Assert.InRange(root.GetProperty("frechet_distance").GetDouble(), 0, 1e-3);
        var accuracy = root.GetProperty("accuracy").GetDouble();
        Assert.Equal(double.Parse(metadata["held_out_accuracy"], CultureInfo.InvariantCulture), accuracy, 3);
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy}");
        Assert.Equal(400, root.GetProperty("class_counts").EnumerateArray().Sum(c => c.GetInt32()));
        // And the confusion matrix (requested x predicted) holds every clip, 40 asked of each digit, its diagonal the hits
        var confusion = root.GetProperty("confusion").EnumerateArray().Select(row => row.EnumerateArray().Select(c => c.GetInt32()).ToArray()).ToArray();
        Assert.Equal(10, confusion.Length);
        Assert.All(confusion, row => Assert.Equal(40, row.Sum()));
        Assert.Equal(accuracy * 400, Enumerable.Range(0, 10).Sum(c => confusion[c][c]), 6);
        var perClass = root.GetProperty("class_accuracy").EnumerateArray().Select(a => a.GetDouble()).ToArray();
        Assert.Equal(Enumerable.Range(0, 10).Select(c => confusion[c][c] / 40.0), perClass);
    }

    [Fact]
    public void Should_refuse_a_folder_without_wavs_a_clip_of_the_wrong_length_and_an_unknown_label_in_one_line()
    {
        // A folder with no WAV files
        var empty = Path.Combine(_dir, "empty");
        Directory.CreateDirectory(empty);
        File.WriteAllText(Path.Combine(empty, "notes.txt"), "no audio here");
        AssertBadInput(CliRunner.Run("eval", empty, "--classifier", ShippedFolder, "--threads", "1"), "no WAV files");

        // A clip of 4,000 samples among clips of 8,192
        var shortClip = Path.Combine(_dir, "short");
        Directory.CreateDirectory(shortClip);
        var rows = Bundled();
        File.Copy(Path.Combine(Digits, rows[0].File), Path.Combine(shortClip, "a.wav"));
        File.Copy(Path.Combine(Digits, rows[1].File), Path.Combine(shortClip, "b.wav"));
        WavFile.Write(Path.Combine(shortClip, "c.wav"), new WavAudio(8000, [new float[4000]]));
        AssertBadInput(CliRunner.Run("eval", shortClip, "--threads", "1"), "c.wav: 4000 samples at 8000 Hz in 1 channel(s); the classifier takes mono clips of exactly 8192 samples");

        // A label that is not a digit
        var unknown = Path.Combine(_dir, "unknown");
        Directory.CreateDirectory(unknown);
        File.Copy(Path.Combine(Digits, rows[0].File), Path.Combine(unknown, "a.wav"));
        File.Copy(Path.Combine(Digits, rows[1].File), Path.Combine(unknown, "b.wav"));
        AudioFolderMetadata.Write(unknown, ["a.wav", "b.wav"], ["0", "eleven"]);
        AssertBadInput(CliRunner.Run("eval", unknown, "--threads", "1"), "label 'eleven' is not a class of the classifier");

        // And image options on audio training data
        AssertBadInput(CliRunner.Run("eval-classifier", "train", "--data", "spoken-digits", "--resolution", "32", "--out", Path.Combine(_dir, "c")),
            "--resolution and --max-shift apply to images");
        Assert.False(Directory.Exists(Path.Combine(_dir, "c")));
    }
}
