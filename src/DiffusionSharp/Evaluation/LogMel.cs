using static TorchSharp.torch;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Log-mel spectrogram, the input of <see cref="SpokenDigitClassifier"/>: <c>torch.stft</c> with a periodic Hann window
/// (centred frames, reflect padding), power |X|², an HTK-scale triangular mel filterbank (mel = 2595 log₁₀(1 + f/700),
/// unnormalised triangles as torchaudio's <c>melscale_fbanks(norm=None, mel_scale="htk")</c>), then
/// <c>log(power + 1e-6)</c> minus each clip's mean, so a clip's overall gain does not change it (up to the 1e-6 floor).
/// Holds its window and filterbank as tensors (not a module: nothing here is a weight); dispose it.
/// </summary>
public sealed class LogMel : IDisposable
{
    /// <summary>The floor added to the power before the log.</summary>
    public const double PowerFloor = 1e-6;

    private readonly Tensor _window;
    private readonly Tensor _filterbank;

    /// <summary>Builds the window and the <c>[melBands, nFft/2 + 1]</c> filterbank for bands from 0 Hz to <paramref name="sampleRate"/>/2.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1, or a hop longer than the FFT.</exception>
    public LogMel(int sampleRate, int nFft, int hopLength, int melBands)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleRate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(nFft, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(hopLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hopLength, nFft);
        ArgumentOutOfRangeException.ThrowIfLessThan(melBands, 1);
        SampleRate = sampleRate;
        NFft = nFft;
        HopLength = hopLength;
        MelBands = melBands;
        _window = hann_window(nFft, periodic: true);
        _filterbank = tensor(Filterbank(sampleRate, nFft, melBands), [melBands, nFft / 2 + 1], ScalarType.Float32);
    }

    /// <summary>Sample rate in Hz the filterbank is laid out for.</summary>
    public int SampleRate { get; }

    /// <summary>FFT size (and window length).</summary>
    public int NFft { get; }

    /// <summary>Samples between frames.</summary>
    public int HopLength { get; }

    /// <summary>Number of mel bands.</summary>
    public int MelBands { get; }

    /// <summary>Frames of a clip of <paramref name="length"/> samples: 1 + length / hop (centred frames).</summary>
    public int Frames(int length) => 1 + length / HopLength;

    /// <summary>The <c>[melBands, nFft/2 + 1]</c> filterbank (a copy).</summary>
    public Tensor FilterbankTensor() => _filterbank.clone();

    /// <summary>Waveforms <c>[B, 1, L]</c> (or <c>[B, L]</c>) → log-mel <c>[B, 1, melBands, 1 + L/hop]</c>, each clip's mean subtracted.</summary>
    /// <exception cref="ArgumentException">Another rank, more than one channel, or a clip no longer than half the FFT (reflect padding needs more).</exception>
    public Tensor Compute(Tensor waveforms)
    {
        ArgumentNullException.ThrowIfNull(waveforms);
        var s = waveforms.shape;
        if (!(s.Length == 2 || (s.Length == 3 && s[1] == 1)) || s[^1] <= NFft / 2)
            throw new ArgumentException($"expected waveforms [B, 1, L] with L > {NFft / 2}, found [{string.Join(", ", s)}]", nameof(waveforms));
        using var scope = NewDisposeScope();
        var x = waveforms.reshape(s[0], s[^1]).to_type(ScalarType.Float32);
        var spectrum = stft(x, NFft, HopLength, NFft, _window, center: true, pad_mode: TorchSharp.PaddingModes.Reflect, return_complex: true);
        var power = spectrum.abs().square();                          // [B, F, T]
        var mel = _filterbank.matmul(power).add_(PowerFloor).log_();  // [B, M, T]
        mel = mel - mel.mean([1, 2], keepdim: true);
        return mel.unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>Frequency in Hz → HTK mel.</summary>
    public static double HzToMel(double hz) => 2595.0 * Math.Log10(1.0 + hz / 700.0);

    /// <summary>HTK mel → frequency in Hz.</summary>
    public static double MelToHz(double mel) => 700.0 * (Math.Pow(10.0, mel / 2595.0) - 1.0);

    /// <summary>
    /// Row-major <c>[melBands, nFft/2 + 1]</c> triangles: band m rises from 0 at f(m) to 1 at f(m+1) and falls to 0 at
    /// f(m+2), the melBands + 2 edges equally spaced in mel from 0 to the Nyquist frequency; FFT bin k is at k·rate/nFft.
    /// </summary>
    public static float[] Filterbank(int sampleRate, int nFft, int melBands)
    {
        var bins = nFft / 2 + 1;
        var nyquist = sampleRate / 2.0;
        var top = HzToMel(nyquist);
        var edges = Enumerable.Range(0, melBands + 2).Select(i => MelToHz(top * i / (melBands + 1))).ToArray();
        var bank = new float[melBands * bins];
        for (var m = 0; m < melBands; m++)
        {
            for (var k = 0; k < bins; k++)
            {
                var f = nyquist * k / (bins - 1);
                var up = (f - edges[m]) / (edges[m + 1] - edges[m]);
                var down = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
                bank[m * bins + k] = (float)Math.Max(0, Math.Min(up, down));
            }
        }
        return bank;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _window.Dispose();
        _filterbank.Dispose();
    }
}
