namespace DiffusionSharp.Audio;

/// <summary>Turns decoded audio into a model sample <c>[C, L]</c>: channels mixed down or kept, resampled, cropped or padded.</summary>
public static class AudioClip
{
    /// <summary>
    /// Fits <paramref name="audio"/> to <paramref name="channels"/> x <paramref name="length"/> samples at <paramref name="sampleRate"/> Hz,
    /// written channel-major into <paramref name="destination"/>: channels per <paramref name="mode"/>, then windowed-sinc
    /// resampling (<see cref="Resampler"/>), then the first <paramref name="length"/> samples (longer clips are cropped at the end,
    /// shorter ones padded with silence at the end). Values are clipped to [-1, 1]. <paramref name="source"/> names the clip
    /// (its file) in error messages.
    /// </summary>
    /// <exception cref="InvalidInputException">The channel counts cannot be matched under <paramref name="mode"/>.</exception>
    public static void Fit(WavAudio audio, int sampleRate, int channels, int length, AudioChannelMode mode, Span<float> destination, string source)
    {
        ArgumentNullException.ThrowIfNull(audio);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (destination.Length < channels * length) throw new ArgumentException($"destination holds {destination.Length} floats, needs {channels * length}", nameof(destination));
        var have = audio.Channels.Count;
        for (var ch = 0; ch < channels; ch++)
        {
            float[] signal;
            if (mode == AudioChannelMode.MixDown && channels == 1)
            {
                signal = new float[audio.Length];
                foreach (var c in audio.Channels)
                {
                    for (var i = 0; i < signal.Length; i++) signal[i] += c[i] / have;
                }
            }
            else if (have == channels || have == 1)
            {
                signal = audio.Channels[have == 1 ? 0 : ch];
            }
            else
            {
                throw new InvalidInputException($"{source}: has {have} channels, the model takes {channels}" +
                    (mode == AudioChannelMode.Keep ? " (channels are kept as they are; mix down for a mono model)" : ""));
            }
            var resampled = audio.SampleRate == sampleRate ? signal : Resampler.Resample(signal, audio.SampleRate, sampleRate);
            var row = destination.Slice(ch * length, length);
            var n = Math.Min(length, resampled.Length);
            for (var i = 0; i < n; i++) row[i] = Math.Clamp(resampled[i], -1f, 1f);
            row[n..].Clear();
        }
    }
}
