using System.Text.Json.Serialization;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Architecture of a <see cref="SpokenDigitClassifier"/>, front end included, stored as <c>config.json</c> (snake_case
/// keys) beside the weights. The input is <c>[B, 1, Length]</c> at <c>SampleRate</c> Hz in [-1, 1].
/// </summary>
/// <param name="SampleRate">Rate of the clips in Hz (the mel bands span 0 to SampleRate / 2).</param>
/// <param name="Length">Samples per clip.</param>
/// <param name="NFft">FFT size and Hann window length of the spectrogram.</param>
/// <param name="HopLength">Samples between spectrogram frames.</param>
/// <param name="MelBands">Mel bands (HTK scale).</param>
/// <param name="Conv1Channels">Channels of the first 3x3 convolution (then 2x2 max-pool).</param>
/// <param name="Conv2Channels">Channels of the second 3x3 convolution (then 2x2 max-pool).</param>
/// <param name="Conv3Channels">Channels of the third 3x3 convolution (then a 2 (mel) x 4 (time) max-pool).</param>
/// <param name="FeatureDim">Width of the penultimate layer (the Fréchet-distance features).</param>
/// <param name="NumClasses">Number of classes.</param>
public sealed record SpokenDigitClassifierConfig(
    int SampleRate = 8000,
    int Length = 8192,
    int NFft = 256,
    int HopLength = 128,
    int MelBands = 40,
    int Conv1Channels = 16,
    int Conv2Channels = 32,
    int Conv3Channels = 64,
    int FeatureDim = 128,
    int NumClasses = 10)
{
    /// <summary>Value of <c>_class_name</c> in the JSON file.</summary>
    public const string ClassName = "SpokenDigitClassifier";

    /// <summary>Spectrogram frames: 1 + Length / HopLength.</summary>
    [JsonIgnore]
    public int Frames => 1 + Length / HopLength;

    /// <summary>Mel rows after the three pools.</summary>
    [JsonIgnore]
    public int PooledMel => MelBands / 2 / 2 / 2;

    /// <summary>Frames after the three pools.</summary>
    [JsonIgnore]
    public int PooledFrames => Frames / 2 / 2 / 4;

    /// <summary>Throws when a size is out of range.</summary>
    /// <exception cref="InvalidInputException">Names the first key out of range.</exception>
    public void Validate(string source = "config")
    {
        foreach (var (key, value) in new[]
                 {
                     ("sample_rate", SampleRate), ("length", Length), ("n_fft", NFft), ("hop_length", HopLength), ("mel_bands", MelBands),
                     ("conv1_channels", Conv1Channels), ("conv2_channels", Conv2Channels), ("conv3_channels", Conv3Channels), ("feature_dim", FeatureDim),
                 })
        {
            if (value < 1) throw new InvalidInputException($"{source}: {key} = {value}: expected ≥ 1");
        }
        if (NFft < 2 || HopLength > NFft) throw new InvalidInputException($"{source}: n_fft = {NFft}, hop_length = {HopLength}: expected 2 ≤ n_fft and hop_length ≤ n_fft");
        if (Length <= NFft / 2) throw new InvalidInputException($"{source}: length = {Length}: expected more than n_fft / 2 = {NFft / 2}");
        if (PooledMel < 1) throw new InvalidInputException($"{source}: mel_bands = {MelBands}: expected ≥ 8 (three 2x pools)");
        if (PooledFrames < 1) throw new InvalidInputException($"{source}: length = {Length}: gives {Frames} frames, expected ≥ 16 (pools of 2, 2 and 4)");
        if (NumClasses < 2) throw new InvalidInputException($"{source}: num_classes = {NumClasses}: expected ≥ 2");
    }

    /// <summary>The JSON text, with <c>_class_name</c> first.</summary>
    public string ToJson() => ClassifierFolder.ConfigToJson(this, ClassName);

    /// <summary>Parses the JSON text written by <see cref="ToJson"/>; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="InvalidInputException">Invalid JSON, an unknown key, another class name, or a size out of range.</exception>
    public static SpokenDigitClassifierConfig FromJson(string json, string source = "config.json") =>
        ClassifierFolder.ConfigFromJson<SpokenDigitClassifierConfig>(json, ClassName, source, (c, s) => c.Validate(s));
}
