using System.Globalization;
using DiffusionSharp.Data;
using DiffusionSharp.Tests.Support;
using SkiaSharp;
using Xunit;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse train --data series.csv --model series-small</c> and <c>diffuse sample --csv</c>: time series from the command line.</summary>
public sealed class SeriesCliTests : IDisposable
{
    private const int Rows = 8, Length = 32;

    private readonly string _dir = TestPaths.NewTempDir();

    public SeriesCliTests()
    {
        // Eight sines of period 16 with different phases, around 100 with amplitude 10: the data spans about [90, 110]
        RowsCsv = Path.Combine(_dir, "rows.csv");
        File.WriteAllLines(RowsCsv, Enumerable.Range(0, Rows).Select(r => string.Join(',',
            Enumerable.Range(0, Length).Select(k => (100 + 10 * Math.Sin(2 * Math.PI * k / 16 + r)).ToString("R", CultureInfo.InvariantCulture)))));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string RowsCsv { get; }

    private static float[][] ReadCsv(string path) =>
        File.ReadAllLines(path).Select(l => l.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    private static string[] Train(string data, string run, params string[] more) =>
        ["train", "--data", data, "--model", "series-small", "--steps", "2", "--batch", "4", "--warmup", "1", "--sample-count", "4",
            "--sample-steps", "2", "--threads", "1", .. more, "--out", run];

    [Fact]
    public void Should_train_on_a_csv_of_rows_and_sample_series_in_the_data_units()
    {
        // Given a 2-step series-small run on the CSV, checkpointing every step
        var run = Path.Combine(_dir, "run");
        var train = CliRunner.Run(Train(RowsCsv, run, "--checkpoint-every", "1"));

        // Then the model took the series' length, the normalisation is saved, and the samples are a CSV and line plots
        Assert.True(train.ExitCode == 0, train.StdErr);
        Assert.Contains($"\"sample_size\": {Length}", File.ReadAllText(Path.Combine(run, "unet", "config.json")));
        var normalization = SeriesNormalization.Load(Path.Combine(run, SeriesNormalization.FileName));
        Assert.Equal(Rows, normalization.Series.Count);
        Assert.InRange(normalization.Global.Offset, 99, 101);
        var grid = ReadCsv(Path.Combine(run, "samples", "step-0000002.csv"));
        Assert.Equal(4, grid.Length);
        Assert.All(grid, s => Assert.Equal(Length, s.Length));
        Assert.True(File.Exists(Path.Combine(run, "samples", "step-0000002.png")));
        Assert.True(File.Exists(Path.Combine(run, "samples", "reverse-process.png")));

        // When it is sampled with --csv and a filmstrip
        var csv = Path.Combine(_dir, "out", "series.csv");
        var picture = Path.Combine(_dir, "series.png");
        var film = Path.Combine(_dir, "film.png");
        var sample = CliRunner.Run("sample", "--model", run, "--ema", "--sampler", "ddim", "--steps", "3", "--count", "3", "--csv", csv,
            "--trajectory", film, "--threads", "1", "--out", picture);

        // Then three series of the data's length are written in its units (within its overall range, not [-1, 1])
        Assert.True(sample.ExitCode == 0, sample.StdErr);
        var series = ReadCsv(csv);
        Assert.Equal(3, series.Length);
        Assert.All(series, s => Assert.Equal(Length, s.Length));
        Assert.All(series.SelectMany(s => s), v => Assert.InRange(v, 90 - 1e-3, 110 + 1e-3));
        Assert.Contains(series.SelectMany(s => s), v => v > 2);
        // And the picture is a 2 x 2 grid of line plots, and the filmstrip exists
        using (var bitmap = SKBitmap.Decode(picture))
            Assert.Equal((2 * DiffusionSharp.Imaging.Plots.SeriesCellWidth, 2 * DiffusionSharp.Imaging.Plots.SeriesCellHeight), (bitmap.Width, bitmap.Height));
        using (var strip = SKBitmap.Decode(film)) Assert.NotNull(strip);

        // And WAVs of a series model are refused in favour of --csv
        AssertBadInput(CliRunner.Run("sample", "--model", run, "--steps", "2", "--count", "1", "--individual", Path.Combine(_dir, "wavs"),
            "--threads", "1", "--out", Path.Combine(_dir, "x.png")), "write its samples with --csv");

        // And the run resumes, reopening the CSV from its recorded data spec
        var resume = CliRunner.Run("train", "--resume", "--steps", "3", "--threads", "1", "--out", run);
        Assert.True(resume.ExitCode == 0, resume.StdErr);
        Assert.True(File.Exists(Path.Combine(run, "samples", "step-0000003.csv")));
    }

    [Fact]
    public void Should_train_on_a_csv_of_columns_with_a_header()
    {
        // Given the same data with a series per column under a header line
        var columns = Path.Combine(_dir, "columns.csv");
        var rows = ReadCsv(RowsCsv);
        File.WriteAllLines(columns, [string.Join(',', Enumerable.Range(0, Rows).Select(r => $"s{r}")),
            .. Enumerable.Range(0, Length).Select(k => string.Join(',', rows.Select(r => r[k].ToString("R", CultureInfo.InvariantCulture))))]);
        var run = Path.Combine(_dir, "cols");

        var train = CliRunner.Run(Train(columns, run, "--series-layout", "columns", "--csv-header", "--checkpoint-every", "0"));

        // Then each column is one series of 32 values, named by the header
        Assert.True(train.ExitCode == 0, train.StdErr);
        Assert.Contains($"\"sample_size\": {Length}", File.ReadAllText(Path.Combine(run, "unet", "config.json")));
        var normalization = SeriesNormalization.Load(Path.Combine(run, SeriesNormalization.FileName));
        Assert.Equal(Enumerable.Range(0, Rows).Select(r => $"s{r}"), normalization.Series.Select(s => s.Name));
    }

    [Theory]
    [InlineData("1,2,3,4\n5,6,7\n", "", "bad.csv:2: 3 values, but the first data line has 4 (ragged: column 4 is missing)")]
    [InlineData("1,2,3,4\n5,6,seven,8\n", "", "bad.csv:2: column 3 \"seven\" is not a finite number")]
    [InlineData("1,2,3\n4,5,6\n", "", "its series have 3 values, but --model series-small takes lengths that are positive multiples of 16")]
    [InlineData(null, "--length 64", "--length 64: the series in")]
    [InlineData(null, "--class-conditional", "--class-conditional: --data")]
    [InlineData(null, "--series-layout diagonal", "--series-layout: unknown layout 'diagonal' (expected rows or columns)")]
    public void Should_reject_bad_series_input_in_one_line_before_writing(string? text, string options, string mention)
    {
        var data = RowsCsv;
        if (text is not null) File.WriteAllText(data = Path.Combine(_dir, "bad.csv"), text);
        var run = Path.Combine(_dir, "bad-run");

        var r = CliRunner.Run(Train(data, run, options.Split(' ', StringSplitOptions.RemoveEmptyEntries)));

        AssertBadInput(r, mention);
        Assert.False(Directory.Exists(run), "nothing may be written on bad input");
    }

    [Fact]
    public void Should_point_image_models_and_wav_output_elsewhere_for_series()
    {
        AssertBadInput(CliRunner.Run("train", "--data", RowsCsv, "--model", "mnist-tiny", "--steps", "1", "--threads", "1", "--out", Path.Combine(_dir, "r")),
            "is a CSV file of time series; --model mnist-tiny is an image model (train a 1-D model such as series-small)");
        AssertBadInput(CliRunner.Run("train", "--data", "mnist", "--series-layout", "rows", "--steps", "1", "--threads", "1", "--out", Path.Combine(_dir, "r")),
            "--series-layout applies to a .csv --data file of time series");
        AssertBadInput(CliRunner.Run("sample", "--model", _dir, "--prompt", "a cat", "--csv", Path.Combine(_dir, "x.csv")),
            "--csv cannot be used with --prompt");
    }

    private static void AssertBadInput(CliRunner.Result r, string mustMention)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.StdErr);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(mustMention, lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
    }
}
