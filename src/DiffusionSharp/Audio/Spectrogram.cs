namespace DiffusionSharp.Audio;

/// <summary>
/// Magnitude spectrograms by a short-time Fourier transform: Hann-windowed frames of <see cref="WindowSize"/> samples every
/// <see cref="HopSize"/>, each transformed by a direct DFT of its <c>WindowSize / 2 + 1</c> non-negative frequencies
/// (|X_k| = |sum_n w_n x_n e^(-2 pi i k n / N)|). Short clips only: the cost is frames x N x (N / 2 + 1).
/// </summary>
public static class Spectrogram
{
    /// <summary>Samples per frame (N): 32 ms at 8 kHz.</summary>
    public const int WindowSize = 256;

    /// <summary>Samples between frame starts.</summary>
    public const int HopSize = 64;

    /// <summary>Frequency bins per frame: N / 2 + 1.</summary>
    public const int Bins = WindowSize / 2 + 1;

    /// <summary>Frames of a clip of <paramref name="length"/> samples (at least 1: a short clip is zero-padded to one window).</summary>
    public static int Frames(int length) => length <= WindowSize ? 1 : (length - WindowSize) / HopSize + 1;

    /// <summary>The magnitude in decibels, 20 log10(|X| + 1e-6), as <c>[frames, bins]</c> row-major (bin 0 = 0 Hz).</summary>
    /// <param name="samples">One channel of audio.</param>
    public static float[] Decibels(ReadOnlySpan<float> samples)
    {
        var frames = Frames(samples.Length);
        var (cos, sin, window) = Tables.Value;
        var result = new float[frames * Bins];
        var frame = new double[WindowSize];
        for (var f = 0; f < frames; f++)
        {
            var start = f * HopSize;
            for (var n = 0; n < WindowSize; n++) frame[n] = start + n < samples.Length ? samples[start + n] * window[n] : 0;
            for (var k = 0; k < Bins; k++)
            {
                double re = 0, im = 0;
                for (var n = 0; n < WindowSize; n++)
                {
                    // The twiddle index k*n mod N: one table of N cosines and sines serves every bin.
                    var j = k * n % WindowSize;
                    re += frame[n] * cos[j];
                    im -= frame[n] * sin[j];
                }
                result[f * Bins + k] = (float)(20 * Math.Log10(Math.Sqrt(re * re + im * im) + 1e-6));
            }
        }
        return result;
    }

    private static readonly Lazy<(double[] Cos, double[] Sin, double[] Window)> Tables = new(() =>
    {
        var cos = new double[WindowSize];
        var sin = new double[WindowSize];
        var window = new double[WindowSize];
        for (var n = 0; n < WindowSize; n++)
        {
            cos[n] = Math.Cos(2 * Math.PI * n / WindowSize);
            sin[n] = Math.Sin(2 * Math.PI * n / WindowSize);
            // Periodic Hann window, as torch.hann_window's default.
            window[n] = 0.5 - 0.5 * Math.Cos(2 * Math.PI * n / WindowSize);
        }
        return (cos, sin, window);
    });
}
