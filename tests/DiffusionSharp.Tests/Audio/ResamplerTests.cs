using DiffusionSharp.Audio;
using Xunit;

namespace DiffusionSharp.Tests.Audio;

/// <summary>Windowed-sinc resampling against closed forms: a band-limited sine comes out as the same sine at the new rate.</summary>
public sealed class ResamplerTests
{
    private static float[] Sine(double hz, int rate, int n, double phase = 0.3) =>
        Enumerable.Range(0, n).Select(i => (float)(0.8 * Math.Sin(2 * Math.PI * hz * i / rate + phase))).ToArray();

    [Theory]
    [InlineData(44100, 8000, 440.0)]
    [InlineData(8000, 16000, 1000.0)]
    [InlineData(22050, 8000, 2500.0)]
    [InlineData(48000, 44100, 5000.0)]
    public void Should_ReproduceTheSineAtTheNewRate_When_ToneIsBelowBothNyquists(int from, int to, double hz)
    {
        var input = Sine(hz, from, from / 4);
        var output = Resampler.Resample(input, from, to);
        Assert.Equal((long)input.Length * to / from, output.Length);
        var expected = Sine(hz, to, output.Length);
        // Away from the ends (where the filter runs off the clip and sees zeros) the error is the filter's pass-band ripple.
        var margin = 64;
        var err = Enumerable.Range(margin, output.Length - 2 * margin).Max(i => Math.Abs(output[i] - expected[i]));
        Assert.True(err < 2e-3, $"{from} -> {to} Hz, {hz} Hz tone: max error {err}");
    }

    [Fact]
    public void Should_RemoveTheTone_When_ItIsAboveTheNewNyquist()
    {
        // 3 kHz cannot exist at 4 kHz sampling (Nyquist 2 kHz): without the low-pass it would alias to 1 kHz at full amplitude.
        var output = Resampler.Resample(Sine(3000, 16000, 8000), 16000, 4000);
        var rms = Math.Sqrt(output.Skip(100).Take(output.Length - 200).Average(v => (double)v * v));
        Assert.True(rms < 0.01, $"alias RMS {rms}");
    }

    [Fact]
    public void Should_CopyTheInput_When_RatesAreEqual()
    {
        var input = Sine(100, 8000, 50);
        var output = Resampler.Resample(input, 8000, 8000);
        Assert.Equal(input, output);
        Assert.NotSame(input, output);
    }
}
