using DiffusionSharp.Audio;
using static TorchSharp.torch;

namespace DiffusionSharp.Imaging;

/// <summary>
/// A picture of audio clips: per clip, its waveform (min/max of the samples under each pixel column, over [-1, 1]) above its
/// <see cref="Spectrogram"/> (low frequencies at the bottom, 80 dB below the loudest bin of the picture = black), laid out in a grid.
/// </summary>
public static class WaveformPicture
{
    /// <summary>Pixel width of one clip.</summary>
    public const int CellWidth = 256;

    /// <summary>Pixel heights of the waveform and spectrogram panels.</summary>
    public const int WaveHeight = 64, SpectrogramHeight = Spectrogram.Bins - 1;

    private const int Gap = 4;
    /// <summary>Decibels from the brightest to black.</summary>
    public const double DynamicRange = 80;

    /// <summary>The picture of the first channel of each clip.</summary>
    /// <param name="clips">[N, C, L] float in [-1, 1].</param>
    /// <param name="columns">Clips per row; null = about the square root of N.</param>
    public static PixelImage Draw(Tensor clips, int? columns = null)
    {
        ArgumentNullException.ThrowIfNull(clips);
        if (clips.dim() != 3) throw new ArgumentException($"expected clips [N, C, L], got [{string.Join(", ", clips.shape)}]", nameof(clips));
        var (count, length) = ((int)clips.shape[0], (int)clips.shape[2]);
        float[] values;
        using (var first = clips.detach().select(1, 0).to(CPU).to_type(ScalarType.Float32).contiguous()) values = first.data<float>().ToArray();
        var cols = Math.Clamp(columns ?? (int)Math.Ceiling(Math.Sqrt(count)), 1, Math.Max(1, count));
        var rows = (count + cols - 1) / cols;
        var cellHeight = WaveHeight + Gap + SpectrogramHeight;
        var (width, height) = (cols * (CellWidth + Gap) + Gap, rows * (cellHeight + Gap) + Gap);
        var pixels = new byte[3 * width * height];
        Array.Fill(pixels, (byte)255);

        var spectrograms = Enumerable.Range(0, count).Select(i => Spectrogram.Decibels(values.AsSpan(i * length, length))).ToArray();
        var loudest = spectrograms.SelectMany(s => s).DefaultIfEmpty(0).Max();
        var frames = Spectrogram.Frames(length);
        for (var i = 0; i < count; i++)
        {
            var (left, top) = (Gap + i % cols * (CellWidth + Gap), Gap + i / cols * (cellHeight + Gap));
            var wave = WaveformImage(values.AsSpan(i * length, length));
            var wavePlane = wave.Height * wave.Width;
            for (var x = 0; x < CellWidth; x++)
            {
                for (var y = 0; y < WaveHeight; y++)
                {
                    var j = y * wave.Width + x;
                    Put(pixels, width, height, top + y, left + x, (wave.Pixels[j], wave.Pixels[wavePlane + j], wave.Pixels[2 * wavePlane + j]));
                }
                var frame = Math.Min(frames - 1, x * frames / CellWidth);
                for (var y = 0; y < SpectrogramHeight; y++)
                {
                    var bin = SpectrogramHeight - y;
                    var level = (spectrograms[i][frame * Spectrogram.Bins + bin] - (loudest - DynamicRange)) / DynamicRange;
                    Put(pixels, width, height, top + WaveHeight + Gap + y, left + x, Heat(Math.Clamp(level, 0, 1)));
                }
            }
        }
        return new PixelImage(3, height, width, pixels);
    }

    /// <summary>
    /// The waveform of one clip as an RGB image: per pixel column the min/max of the samples under it and the one before, over [-1, 1] (values
    /// outside are drawn at the edge), blue on light gray with the zero line marked.
    /// </summary>
    /// <param name="clip">One channel of audio, or a normalised series.</param>
    /// <param name="width">Pixel columns; a clip shorter than this spreads each sample over several.</param>
    /// <param name="height">Pixel rows.</param>
    public static PixelImage WaveformImage(ReadOnlySpan<float> clip, int width = CellWidth, int height = WaveHeight)
    {
        if (clip.IsEmpty) throw new ArgumentException("expected at least one sample", nameof(clip));
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 2);
        var length = clip.Length;
        var pixels = new byte[3 * width * height];
        int Row(float v) => Math.Clamp((int)Math.Round((1 - Math.Clamp(v, -1f, 1f)) / 2 * (height - 1)), 0, height - 1);
        for (var x = 0; x < width; x++)
        {
            var (from, to) = (x * length / width, Math.Max(x * length / width + 1, (x + 1) * length / width));
            float lo = 1, hi = -1;
            // The previous column's last sample joins the columns into a line where samples are fewer than columns.
            foreach (var v in clip[Math.Max(0, from - 1)..Math.Min(to, length)]) (lo, hi) = (Math.Min(lo, v), Math.Max(hi, v));
            for (var y = 0; y < height; y++)
            {
                var inWave = y >= Row(hi) && y <= Row(lo);
                var rgb = inWave ? (30, 90, 180) : y == height / 2 ? (200, 200, 200) : (245, 245, 245);
                Put(pixels, width, height, y, x, rgb);
            }
        }
        return new PixelImage(3, height, width, pixels);
    }

    /// <summary>
    /// The level of a full-scale sine (amplitude 1) at its frequency bin, in <see cref="Spectrogram.Decibels"/>' units:
    /// 20 log10(sum of the Hann window / 2) = 20 log10(64) ≈ 36.1 dB. It is 0 dBFS, the top of <see cref="SpectrogramImage"/>.
    /// </summary>
    public static readonly double FullScaleDecibels = 20 * Math.Log10(Spectrogram.WindowSize / 4.0);

    /// <summary>Narrowest <see cref="SpectrogramImage"/>: a clip of few frames has each frame repeated up to this width.</summary>
    public const int MinSpectrogramWidth = 64;

    /// <summary>
    /// The spectrogram of one clip as an RGB image on a fixed decibel scale (not scaled to the clip's loudest bin, so pictures of
    /// different clips compare): <paramref name="topDecibels"/> and above is pale yellow, <paramref name="rangeDecibels"/> below it
    /// and less is black. <see cref="SpectrogramHeight"/> rows (bins 1..128, low frequencies at the bottom), one column per frame,
    /// each repeated to at least <see cref="MinSpectrogramWidth"/> columns.
    /// </summary>
    /// <param name="clip">One channel of audio.</param>
    /// <param name="topDecibels">The level drawn brightest; <see cref="FullScaleDecibels"/> for 0 dBFS.</param>
    /// <param name="rangeDecibels">How far below the top black begins (positive).</param>
    public static PixelImage SpectrogramImage(ReadOnlySpan<float> clip, double topDecibels, double rangeDecibels = DynamicRange)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rangeDecibels);
        if (clip.IsEmpty) throw new ArgumentException("expected at least one sample", nameof(clip));
        var decibels = Spectrogram.Decibels(clip);
        var frames = Spectrogram.Frames(clip.Length);
        var repeat = (MinSpectrogramWidth + frames - 1) / frames;
        var (width, height) = (frames * repeat, SpectrogramHeight);
        var pixels = new byte[3 * width * height];
        for (var x = 0; x < width; x++)
        {
            var frame = x / repeat;
            for (var y = 0; y < height; y++)
            {
                var level = (decibels[frame * Spectrogram.Bins + height - y] - (topDecibels - rangeDecibels)) / rangeDecibels;
                Put(pixels, width, height, y, x, Heat(Math.Clamp(level, 0, 1)));
            }
        }
        return new PixelImage(3, height, width, pixels);
    }

    /// <summary>Writes <see cref="Draw"/>'s picture as a PNG, atomically.</summary>
    /// <param name="clips">[N, C, L] float in [-1, 1].</param>
    /// <param name="path">The PNG to write.</param>
    /// <param name="columns">Clips per row; null = about the square root of N.</param>
    public static void SavePng(Tensor clips, string path, int? columns = null) => ImageFile.SavePng(Draw(clips, columns), path);

    private static void Put(byte[] pixels, int width, int height, int y, int x, (int R, int G, int B) rgb)
    {
        var plane = width * height;
        pixels[y * width + x] = (byte)rgb.R;
        pixels[plane + y * width + x] = (byte)rgb.G;
        pixels[2 * plane + y * width + x] = (byte)rgb.B;
    }

    /// <summary>Black, purple, orange, pale yellow: a perceptually ordered ramp in the spirit of matplotlib's magma.</summary>
    private static (int, int, int) Heat(double t)
    {
        var s = t * 3;
        var i = Math.Min(2, (int)s);
        var f = s - i;
        int Mix(int c) => (int)Math.Round(HeatStops[i * 3 + c] + (HeatStops[(i + 1) * 3 + c] - HeatStops[i * 3 + c]) * f);
        return (Mix(0), Mix(1), Mix(2));
    }

    private static readonly double[] HeatStops = [0, 0, 4, 80, 18, 120, 230, 100, 40, 252, 250, 190];
}
