namespace DiffusionSharp.Audio;

/// <summary>Decoded audio: one float array per channel (values nominally in [-1, 1]) at <see cref="SampleRate"/> Hz.</summary>
/// <param name="SampleRate">Samples per second per channel.</param>
/// <param name="Channels">One array per channel, all of the same length.</param>
/// <param name="Format">The stored format it was read from (or is to be written in).</param>
public sealed record WavAudio(int SampleRate, IReadOnlyList<float[]> Channels, WavSampleFormat Format = WavSampleFormat.Pcm16)
{
    /// <summary>Samples per channel.</summary>
    public int Length => Channels.Count == 0 ? 0 : Channels[0].Length;

    /// <summary>Duration in seconds.</summary>
    public double Seconds => (double)Length / SampleRate;
}
