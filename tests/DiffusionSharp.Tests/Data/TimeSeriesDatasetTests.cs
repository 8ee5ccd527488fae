using DiffusionSharp.Data;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Data;

/// <summary>CSV time series as [1, L] samples: per-series min-max normalisation, recorded and undone; file:line errors.</summary>
public sealed class TimeSeriesDatasetTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Csv(string text)
    {
        var path = Path.Combine(_dir, "series.csv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Should_NormaliseEachRowToMinusOneOne_When_ReadingRows()
    {
        var data = TimeSeriesDataset.FromCsv(Csv("0,5,10\n\n-2,-2,-2\n1e3,0,500\n"));
        Assert.Equal(3, data.Count);
        Assert.Equal([1, 3], data.SampleShape);
        var samples = new float[9];
        data.FillBatch([0, 1, 2], samples, []);
        // Row 1 spans [0, 10]; row 2 is constant (scale 1, becomes 0); row 3 spans [0, 1000].
        Assert.Equal([-1f, 0f, 1f, 0f, 0f, 0f, 1f, -1f, 0f], samples);
        var n = data.Normalization;
        Assert.Equal((5.0, 5.0), (n.Series[0].Offset, n.Series[0].Scale));
        Assert.Equal((-2.0, 1.0), (n.Series[1].Offset, n.Series[1].Scale));
        Assert.Equal((499.0, 501.0), (n.Global.Offset, n.Global.Scale));
    }

    [Fact]
    public void Should_ReadColumnsWithHeaderAndUndoTheNormalisationAfterSaveAndLoad_When_LayoutIsColumns()
    {
        var data = TimeSeriesDataset.FromCsv(Csv("temp,load\n10,100\n20,300\n30,200\n"), TimeSeriesLayout.Columns, hasHeader: true);
        Assert.Equal(2, data.Count);
        Assert.Equal([1, 3], data.SampleShape);
        var json = Path.Combine(_dir, SeriesNormalization.FileName);
        data.Normalization.Save(json);
        var loaded = SeriesNormalization.Load(json);
        Assert.Equal("load", loaded.Series[1].Name);
        var samples = new float[3];
        data.FillBatch([1], samples, []);
        Assert.Equal([-1f, 1f, 0f], samples);
        loaded.Undo(samples, 1);
        Assert.Equal([100f, 300f, 200f], samples);

        var outPath = Path.Combine(_dir, "out.csv");
        TimeSeriesDataset.WriteCsv(outPath, [[1.5f, 2f], [3f, -4f]], TimeSeriesLayout.Columns);
        Assert.Equal("1.5,3\n2,-4\n", File.ReadAllText(outPath));
    }

    [Theory]
    [InlineData("1,2,3\n4,5\n", ":2: 2 values, but the first data line has 3 (ragged: column 3 is missing)")]
    [InlineData("1,2,3\n4,five,6\n", ":2: column 2 \"five\" is not a finite number")]
    [InlineData("1,2,3\n\n4,5,NaN\n", ":3: column 3 \"NaN\" is not a finite number")]
    [InlineData("", ": no data lines")]
    public void Should_NameFileAndLine_When_CsvIsBad(string text, string expected)
    {
        var path = Csv(text);
        var e = Assert.Throws<InvalidInputException>(() => TimeSeriesDataset.FromCsv(path));
        Assert.Equal(path + expected, e.Message);
    }
}
