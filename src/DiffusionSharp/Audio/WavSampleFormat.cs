namespace DiffusionSharp.Audio;

/// <summary>How samples are stored in a WAV file's <c>data</c> chunk.</summary>
public enum WavSampleFormat
{
    /// <summary>8-bit unsigned PCM (128 = silence).</summary>
    Pcm8,

    /// <summary>16-bit signed PCM, little-endian.</summary>
    Pcm16,

    /// <summary>24-bit signed PCM, little-endian, packed in three bytes.</summary>
    Pcm24,

    /// <summary>32-bit signed PCM.</summary>
    Pcm32,

    /// <summary>32-bit IEEE float.</summary>
    Float32,

    /// <summary>64-bit IEEE float.</summary>
    Float64,
}
