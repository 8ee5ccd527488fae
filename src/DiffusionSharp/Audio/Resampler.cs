namespace DiffusionSharp.Audio;

/// <summary>
/// Band-limited sample-rate conversion by windowed-sinc interpolation (Smith, "Digital Audio Resampling"): each output sample at input
/// time t = n·from/to is Σ_k x[k]·fc·sinc(fc·(t − k))·w((t − k)/(Z/fc)), with cutoff fc = min(1, to/from) (so downsampling low-passes
/// below the new Nyquist frequency first), Z = <see cref="ZeroCrossings"/> sinc zero crossings per side and a Kaiser window
/// (β = <see cref="KaiserBeta"/>). Samples beyond either end count as zero. Pure and deterministic.
/// </summary>
/// <remarks>
/// NAudio.Core's managed <c>WdlResamplingSampleProvider</c> is cross-platform, but it is a streaming, output-driven provider in its
/// IIR-filtered interpolation mode (a frequency-dependent phase delay and a priming latency at the start of the clip); a whole clip
/// needs a zero-phase filter, which this is.
/// </remarks>
public static class Resampler
{
    /// <summary>Sinc zero crossings on each side of the filter.</summary>
    public const int ZeroCrossings = 16;

    /// <summary>Kaiser window shape: about 80 dB of stop-band attenuation.</summary>
    public const double KaiserBeta = 8.6;

    /// <summary>Converts <paramref name="input"/> from <paramref name="fromRate"/> to <paramref name="toRate"/> Hz.</summary>
    /// <returns>floor(L · to / from) samples; the input itself (copied) when the rates are equal.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A rate below 1.</exception>
    public static float[] Resample(ReadOnlySpan<float> input, int fromRate, int toRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fromRate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(toRate, 1);
        if (fromRate == toRate) return input.ToArray();
        var outLength = (int)((long)input.Length * toRate / fromRate);
        var output = new float[outLength];
        var fc = Math.Min(1.0, (double)toRate / fromRate);
        var halfWidth = ZeroCrossings / fc;
        var i0Beta = BesselI0(KaiserBeta);
        for (var n = 0; n < outLength; n++)
        {
            var t = (double)n * fromRate / toRate;
            var first = Math.Max(0, (int)Math.Ceiling(t - halfWidth));
            var last = Math.Min(input.Length - 1, (int)Math.Floor(t + halfWidth));
            double sum = 0;
            for (var k = first; k <= last; k++)
            {
                var d = t - k;
                var r = d / halfWidth;
                if (r is <= -1 or >= 1) continue;
                var window = BesselI0(KaiserBeta * Math.Sqrt(1 - r * r)) / i0Beta;
                sum += input[k] * fc * Sinc(fc * d) * window;
            }
            output[n] = (float)sum;
        }
        return output;
    }

    private static double Sinc(double x) => Math.Abs(x) < 1e-12 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);

    // Modified Bessel function of the first kind, order 0, by its power series (converges fast for the arguments used here).
    private static double BesselI0(double x)
    {
        double sum = 1, term = 1, q = x * x / 4;
        for (var k = 1; k < 50; k++)
        {
            term *= q / (k * k);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return sum;
    }
}
