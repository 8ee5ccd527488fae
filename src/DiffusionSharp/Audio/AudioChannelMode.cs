namespace DiffusionSharp.Audio;

/// <summary>How a file's channels become the model's channels.</summary>
public enum AudioChannelMode
{
    /// <summary>Average all channels into one (stereo → mono).</summary>
    MixDown,

    /// <summary>Keep the channels as they are; a file must have exactly the model's channel count (a mono file is duplicated for a stereo model).</summary>
    Keep,
}
