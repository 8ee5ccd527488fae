using DiffusionSharp.Imaging;
using DiffusionSharp.Tests.Support;
using SkiaSharp;
using TorchSharp;
using Xunit;

namespace DiffusionSharp.Tests.Imaging;

public sealed class PictureTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SKBitmap Decode(string path) => SKBitmap.Decode(path) ?? throw new InvalidDataException(path + " is not an image");

    [Theory]
    [InlineData(10, 4, 2, 1, 3, 4 * (28 * 3 + 2) + 2, 3 * (28 * 3 + 2) + 2)]
    [InlineData(6, null, 0, 1, 1, 3 * 28, 2 * 28)]
    [InlineData(3, 8, 5, 3, 2, 3 * (56 + 5) + 5, 56 + 10)]
    public void Should_make_a_grid_of_the_expected_size(int count, int? nrow, int padding, int channels, int scale, int width, int height)
    {
        using var images = torch.rand(count, channels, 28, 28) * 2 - 1;
        var path = Path.Combine(_dir, "grid.png");

        ImageGrid.SavePng(images, path, nrow, padding, scale);

        using var bitmap = Decode(path);
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));
    }

    [Fact]
    public void Should_keep_pixels_exact_and_pad_in_grey_in_a_grid()
    {
        var a = new PixelImage(1, 1, 2, [0, 255]);
        var b = new PixelImage(1, 1, 2, [10, 20]);

        var grid = ImageGrid.Compose([a, b], nrow: 2, padding: 1, scale: 2);

        Assert.Equal((4, 11), (grid.Height, grid.Width));
        var row1 = grid.Pixels.AsSpan(1 * 11, 11).ToArray();
        Assert.Equal(new byte[] { 128, 0, 0, 255, 255, 128, 10, 10, 20, 20, 128 }, row1);
    }

    [Fact]
    public void Should_make_a_filmstrip_of_the_expected_size()
    {
        using var row = torch.linspace(-1, 1, 5 * 28 * 28).reshape(5, 1, 28, 28);
        var strip = new Filmstrip(["t=0", "t=250", "t=500", "t=750", "t=999"]) { Scale = 2, Padding = 4 };
        strip.AddRow(row).AddRow(row);
        var path = Path.Combine(_dir, "strip.png");

        strip.SavePng(path);

        using var bitmap = Decode(path);
        Assert.Equal(5 * (56 + 4) + 4, bitmap.Width);
        Assert.Equal(strip.LabelBandHeight + 2 * (56 + 4) + 4, bitmap.Height);
    }

    [Fact]
    public void Should_widen_a_filmstrip_for_row_labels_and_draw_text()
    {
        using var row = torch.zeros(2, 3, 16, 16);
        var plainStrip = new Filmstrip(["", ""]) { Scale = 1 };
        var plain = plainStrip.AddRow(row).Render();
        var labelled = new Filmstrip(["step 0", "step 50"]) { Scale = 1, Title = "Sampling" }.AddRow(row, "x_t").AddRow(row, "predicted x0").Render();

        Assert.True(Filmstrip.CanDrawText, "no font found: install fonts-dejavu-core");
        Assert.True(labelled.Width > plain.Width);
        // Text was drawn: the label band of the labelled strip is not all white
        Assert.Contains(labelled.Pixels.AsSpan(0, labelled.Width * labelled.Height).ToArray(), p => p < 128);
        Assert.DoesNotContain(plain.Pixels.AsSpan(0, plain.Width * plainStrip.LabelBandHeight).ToArray(), p => p < 255);
    }

    [Fact]
    public void Should_write_schedule_and_loss_plots()
    {
        var t = Enumerable.Range(0, 1000).ToArray();
        var alphaBar = new double[1000];
        var product = 1.0;
        foreach (var i in t) alphaBar[i] = product *= 1 - (1e-4 + (0.02 - 1e-4) * i / 999);
        var schedulePath = Path.Combine(_dir, "schedule.png");
        var lossPath = Path.Combine(_dir, "loss.png");

        Plots.SaveSchedules(schedulePath, [("linear", alphaBar)]);
        Plots.SaveLossCurve(lossPath, t.Select(i => (double)i).ToArray(), t.Select(i => 1.0 / (1 + i)).ToArray());

        using var schedule = Decode(schedulePath);
        using var loss = Decode(lossPath);
        Assert.Equal((Plots.DefaultWidth, 2 * Plots.DefaultPanelHeight), (schedule.Width, schedule.Height));
        Assert.Equal(Plots.DefaultWidth, loss.Width);
        Assert.Equal(2, Directory.GetFiles(_dir).Length);
    }

    [Fact]
    public void Should_smooth_with_a_bias_corrected_moving_average()
    {
        var smoothed = Plots.Smooth([4, 4, 4, double.NaN, 4], 0.9);

        Assert.All(smoothed, v => Assert.Equal(4, v, 9));
    }
}
