
namespace DiffusionSharp.Evaluation;

/// <summary>
/// Architecture of a <see cref="DigitClassifier"/>; stored as <c>config.json</c> beside the weights with snake_case keys.
/// The input is always <c>[B, 1, 28, 28]</c> in [-1, 1].
/// </summary>
/// <param name="Conv1Channels">Channels of the first 3x3 convolution (28 x 28, then max-pooled to 14 x 14).</param>
/// <param name="Conv2Channels">Channels of the second 3x3 convolution (14 x 14, then pooled to 7 x 7).</param>
/// <param name="Conv3Channels">Channels of the third 3x3 convolution (7 x 7, then pooled to 3 x 3).</param>
/// <param name="FeatureDim">Width of the penultimate layer: the feature vector of <see cref="DigitClassifier.Features"/>.</param>
/// <param name="NumClasses">Number of classes (10 digits).</param>
public sealed record DigitClassifierConfig(
    int Conv1Channels = 32,
    int Conv2Channels = 64,
    int Conv3Channels = 64,
    int FeatureDim = 128,
    int NumClasses = 10)
{
    /// <summary>Value of <c>_class_name</c> in the JSON file.</summary>
    public const string ClassName = "DigitClassifier";

    /// <summary>Throws when a size is below 1.</summary>
    /// <exception cref="InvalidInputException">Names the first key out of range.</exception>
    public void Validate(string source = "config")
    {
        foreach (var (key, value) in new[]
                 {
                     ("conv1_channels", Conv1Channels), ("conv2_channels", Conv2Channels), ("conv3_channels", Conv3Channels),
                     ("feature_dim", FeatureDim), ("num_classes", NumClasses),
                 })
        {
            if (value < 1) throw new InvalidInputException($"{source}: {key} = {value}: expected ≥ 1");
        }
    }

    /// <summary>The JSON text, with <c>_class_name</c> first.</summary>
    public string ToJson() => ClassifierFolder.ConfigToJson(this, ClassName);

    /// <summary>Reads and validates <paramref name="path"/>.</summary>
    /// <exception cref="InvalidInputException">Missing file, invalid JSON, an unknown key, another class name, or a size below 1.</exception>
    public static DigitClassifierConfig Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: classifier config not found");
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Parses the JSON text written by <see cref="ToJson"/>; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="InvalidInputException">See <see cref="Load"/>.</exception>
    public static DigitClassifierConfig FromJson(string json, string source = "config.json") =>
        ClassifierFolder.ConfigFromJson<DigitClassifierConfig>(json, ClassName, source, (c, s) => c.Validate(s));
}
