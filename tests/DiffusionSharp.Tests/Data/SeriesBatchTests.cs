using DiffusionSharp.Data;
using DiffusionSharp.Imaging;
using DiffusionSharp.Tests.Samplers;
using DiffusionSharp.Tests.Support;
using SkiaSharp;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Data;

/// <summary>Generated series back in the data's units: the run's normalisation undone, CSV rows, the line-plot grid.</summary>
[Collection(TensorCountCollection.Name)]
public sealed class SeriesBatchTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Should_clip_and_undo_the_global_normalisation_then_write_one_series_per_row_without_leaking()
    {
        // Given a run trained on series spanning [100, 110] overall, and two generated samples, one beyond [-1, 1]
        File.WriteAllText(Path.Combine(_dir, "data.csv"), "100,104,106\n102,110,101\n");
        TimeSeriesDataset.FromCsv(Path.Combine(_dir, "data.csv")).Normalization.Save(Path.Combine(_dir, SeriesNormalization.FileName));
        var normalization = SeriesBatch.FindNormalization(_dir);
        Assert.NotNull(normalization);
        using var samples = tensor(new[] { -1f, 0f, 1f, 0.5f, 3f, -2f }, [2, 1, 3]);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        // When they are written as CSV
        var path = Path.Combine(_dir, "out", "samples.csv");
        var series = SeriesBatch.SaveCsv(samples, path, normalization);

        // Then each is mapped by x * 5 + 105, after clipping to [-1, 1], one row per series
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal([[100f, 105f, 110f], [107.5f, 110f, 100f]], series);
        Assert.Equal("100,105,110\n107.5,110,100\n", File.ReadAllText(path));
        // And the CSV reads back as a dataset of the same shape
        Assert.Equal([1, 3], TimeSeriesDataset.FromCsv(path).SampleShape);
        // And a folder without a normalisation has none, so values stay as they are
        Assert.Null(SeriesBatch.FindNormalization(Path.Combine(_dir, "out")));
        Assert.Equal([[-1f, 0f, 1f], [0.5f, 1f, -1f]], SeriesBatch.Values(samples, null));
    }

    [Theory]
    [InlineData(5, null, 3, 2)]
    [InlineData(4, 4, 4, 1)]
    [InlineData(1, null, 1, 1)]
    public void Should_draw_one_line_plot_per_series_in_a_grid(int count, int? columns, int expectedColumns, int expectedRows)
    {
        var series = Enumerable.Range(0, count).Select(i => Enumerable.Range(0, 40).Select(k => (float)Math.Sin(k / 5.0 + i)).ToArray()).ToList();
        var path = Path.Combine(_dir, "grid.png");

        Plots.SaveSeriesGrid(path, series, columns);

        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.Equal((expectedColumns * Plots.SeriesCellWidth, expectedRows * Plots.SeriesCellHeight), (bitmap.Width, bitmap.Height));
        // And lines were drawn in ScottPlot's first colour (Category10 blue)
        var blue = 0;
        for (var y = 0; y < bitmap.Height; y += 2)
            for (var x = 0; x < bitmap.Width; x += 2)
                if (bitmap.GetPixel(x, y) is { Blue: > 150, Red: < 90 }) blue++;
        Assert.True(blue > 20 * count, $"{blue} blue pixels");
    }
}
