using DiffusionSharp.Imaging;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Tests.Samplers;
using DiffusionSharp.Tests.Support;
using SkiaSharp;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>The reverse-process filmstrip of 1-D samples: spectrograms of x_t and the predicted x_0 on one fixed dB scale.</summary>
[Collection(TensorCountCollection.Name)]
public sealed class AudioTrajectoryTests : IDisposable
{
    private const int Length = 1024, Bin = 32;

    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A sine exactly on frequency bin <see cref="Bin"/> (period 8 samples), so every frame sees the same cycle.</summary>
    private static float[] Sine(double amplitude) =>
        Enumerable.Range(0, Length).Select(n => (float)(amplitude * Math.Sin(2 * Math.PI * Bin * n / 256.0))).ToArray();

    private static (int R, int G, int B) Pixel(PixelImage image, int y, int x)
    {
        var plane = image.Height * image.Width;
        var i = y * image.Width + x;
        return (image.Pixels[i], image.Pixels[plane + i], image.Pixels[2 * plane + i]);
    }

    [Fact]
    public void Should_draw_spectrograms_on_a_fixed_scale_not_scaled_to_each_clip()
    {
        // Given a full-scale sine, a sine 20 dB quieter and silence
        var loud = WaveformPicture.SpectrogramImage(Sine(1), WaveformPicture.FullScaleDecibels);
        var quiet = WaveformPicture.SpectrogramImage(Sine(0.1), WaveformPicture.FullScaleDecibels);
        var silent = WaveformPicture.SpectrogramImage(new float[Length], WaveformPicture.FullScaleDecibels);

        // Then each is 128 bins high, one column per frame repeated to at least 64 columns
        var frames = DiffusionSharp.Audio.Spectrogram.Frames(Length);
        Assert.Equal((WaveformPicture.SpectrogramHeight, frames * (int)Math.Ceiling(64.0 / frames)), (loud.Height, loud.Width));
        // And the full-scale sine's row (bin 32, low frequencies at the bottom) is 0 dBFS, the brightest colour
        var row = WaveformPicture.SpectrogramHeight - Bin;
        Assert.Equal((252, 250, 190), Pixel(loud, row, loud.Width / 2));
        // And the quieter sine is drawn darker on the same scale (-20 dBFS = 3/4 of the ramp), not stretched to its own loudest bin
        var (r, g, _) = Pixel(quiet, row, quiet.Width / 2);
        Assert.InRange(r, 225, 245);
        Assert.InRange(g, 120, 155);
        // And silence, and bins far from the sine, are black
        Assert.Equal((0, 0, 4), Pixel(silent, row, 10));
        Assert.Equal((0, 0, 4), Pixel(loud, row - 20, 10));
    }

    [Fact]
    public void Should_write_a_labelled_filmstrip_of_spectrograms_for_1d_samples_without_leaking()
    {
        // Given a recorder fed three steps of two 1-D samples as the sampling loop does, x_t growing louder, x_0 a full-scale sine
        var path = Path.Combine(_dir, "film.png");
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var recorder = new TrajectoryRecorder(frames: 3, samples: 2))
        {
            double[] amplitudes = [0.01, 0.1, 1];
            for (var i = 0; i < 3; i++)
            {
                // The sampling loop records inside its per-step dispose scope
                using var scope = NewDisposeScope();
                var xt = tensor(Sine(amplitudes[i]).Concat(Sine(amplitudes[i])).ToArray(), [2, 1, Length]);
                var x0 = tensor(Sine(1).Concat(Sine(1)).ToArray(), [2, 1, Length]);
                recorder.Record(new SamplingStep(i, 3, 999 - 400 * i, xt, x0));
            }

            // When it is saved
            recorder.Save(path, "ddim");
        }

        // Then nothing is left alive
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        // And the picture holds 3 columns and 4 rows (x_t and x_0 of each sample) of 128-bin spectrograms under the labels
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        var cell = WaveformPicture.SpectrogramImage(Sine(1), WaveformPicture.FullScaleDecibels);
        var strip = new Filmstrip(["t=999", "t=599", "t=199"]) { Title = "x" };
        Assert.True(bitmap.Height >= strip.LabelBandHeight + 4 * (cell.Height + 4) + 4, $"height {bitmap.Height}");
        Assert.True(bitmap.Width >= 3 * (cell.Width + 4) + 4, $"width {bitmap.Width}");
        // And the brightest colour appears in exactly the cells at 0 dBFS: the 6 x_0 cells and the last x_t column (2 cells),
        // one row of pixels each (bin 32): the scale is the strip's, not each cell's
        var brightest = 0;
        for (var y = 0; y < bitmap.Height; y++)
            for (var x = 0; x < bitmap.Width; x++)
                if (bitmap.GetPixel(x, y) == new SKColor(252, 250, 190)) brightest++;
        Assert.Equal(8 * cell.Width, brightest);
    }
}
