using DiffusionSharp.IO;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Architecture of an <see cref="ImageClassifier"/>, stored as <c>config.json</c> (snake_case keys) beside the weights.
/// </summary>
/// <param name="InChannels">Image channels (3 for RGB).</param>
/// <param name="ImageSize">Side length of the square input; divisible by 8 (three 2x2 max-pools).</param>
/// <param name="Conv1Channels">Channels of the first 3x3 convolution.</param>
/// <param name="Conv2Channels">Channels of the second 3x3 convolution.</param>
/// <param name="Conv3Channels">Channels of the third 3x3 convolution.</param>
/// <param name="FeatureDim">Width of the penultimate layer (the FID features).</param>
/// <param name="NumClasses">Number of classes.</param>
public sealed record ImageClassifierConfig(
    int InChannels = 3,
    int ImageSize = 32,
    int Conv1Channels = 32,
    int Conv2Channels = 64,
    int Conv3Channels = 128,
    int FeatureDim = 128,
    int NumClasses = 2)
{
    /// <summary>Value of <c>_class_name</c> in the JSON file.</summary>
    public const string ClassName = "ImageClassifier";

    /// <summary>Throws when a size is out of range.</summary>
    /// <exception cref="InvalidInputException">Names the first key out of range.</exception>
    public void Validate(string source = "config")
    {
        foreach (var (key, value) in new[]
                 {
                     ("in_channels", InChannels), ("image_size", ImageSize), ("conv1_channels", Conv1Channels),
                     ("conv2_channels", Conv2Channels), ("conv3_channels", Conv3Channels), ("feature_dim", FeatureDim),
                 })
        {
            if (value < 1) throw new InvalidInputException($"{source}: {key} = {value}: expected ≥ 1");
        }
        if (ImageSize % 8 != 0) throw new InvalidInputException($"{source}: image_size = {ImageSize}: expected a multiple of 8");
        if (NumClasses < 2) throw new InvalidInputException($"{source}: num_classes = {NumClasses}: expected ≥ 2");
    }

    /// <summary>The JSON text, with <c>_class_name</c> first.</summary>
    public string ToJson() => ClassifierFolder.ConfigToJson(this, ClassName);

    /// <summary>Parses the JSON text written by <see cref="ToJson"/>; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="InvalidInputException">Invalid JSON, an unknown key, another class name, or a size out of range.</exception>
    public static ImageClassifierConfig FromJson(string json, string source = "config.json") =>
        ClassifierFolder.ConfigFromJson<ImageClassifierConfig>(json, ClassName, source, (c, s) => c.Validate(s));
}

/// <summary>
/// A small CNN for square colour (or grey) images whose penultimate activations are the feature space of FID on
/// colour images (e.g. the emoji classifier on <c>subgroup</c>): conv3x3 ReLU maxpool, three times, then
/// fc(→FeatureDim) ReLU [= <see cref="Features"/>] → fc(→NumClasses). Input <c>[B, C, S, S]</c> in [-1, 1].
/// No dropout or batch norm, so train and eval modes compute the same function. A folder holds <c>config.json</c>,
/// <c>model.safetensors</c> and <c>class_names.json</c> (the class of each output, in order).
/// </summary>
public sealed class ImageClassifier : nn.Module<Tensor, Tensor>
{
    /// <summary>File name of the weights inside a classifier folder.</summary>
    public const string WeightsFileName = ClassifierFolder.WeightsFileName;

    /// <summary>File name of the config inside a classifier folder.</summary>
    public const string ConfigFileName = ClassifierFolder.ConfigFileName;

    /// <summary>File name of the class names (a JSON array of strings) inside a classifier folder.</summary>
    public const string ClassNamesFileName = ClassifierFolder.ClassNamesFileName;

    [ComponentName(Name = "conv1")] private readonly Conv2d _conv1;
    [ComponentName(Name = "conv2")] private readonly Conv2d _conv2;
    [ComponentName(Name = "conv3")] private readonly Conv2d _conv3;
    [ComponentName(Name = "fc1")] private readonly Linear _fc1;
    [ComponentName(Name = "fc2")] private readonly Linear _fc2;

    /// <summary>A classifier with PyTorch's default initialisation drawn from <paramref name="generator"/> when given.</summary>
    /// <exception cref="InvalidInputException">A bad config, or class names whose count is not num_classes.</exception>
    public ImageClassifier(ImageClassifierConfig config, IReadOnlyList<string> classNames, Generator? generator = null) : base(nameof(ImageClassifier))
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(classNames);
        config.Validate();
        if (classNames.Count != config.NumClasses)
            throw new InvalidInputException($"{ClassNamesFileName}: {classNames.Count} names for num_classes = {config.NumClasses}");
        Config = config;
        ClassNames = classNames.ToArray();
        var pooled = config.ImageSize / 8;
        _conv1 = nn.Conv2d(config.InChannels, config.Conv1Channels, 3, padding: 1);
        _conv2 = nn.Conv2d(config.Conv1Channels, config.Conv2Channels, 3, padding: 1);
        _conv3 = nn.Conv2d(config.Conv2Channels, config.Conv3Channels, 3, padding: 1);
        _fc1 = nn.Linear(config.Conv3Channels * pooled * pooled, config.FeatureDim);
        _fc2 = nn.Linear(config.FeatureDim, config.NumClasses);
        RegisterComponents();
        if (generator is not null) Initialize(generator);
    }

    /// <summary>The architecture.</summary>
    public ImageClassifierConfig Config { get; }

    /// <summary>The name of each class, in output order.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of scalar parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Penultimate activations (after ReLU): <c>[B, C, S, S]</c> float32 in [-1, 1] → <c>[B, FeatureDim]</c>.</summary>
    /// <exception cref="ArgumentException">Another input shape.</exception>
    public Tensor Features(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var s = images.shape;
        if (s.Length != 4 || s[1] != Config.InChannels || s[2] != Config.ImageSize || s[3] != Config.ImageSize)
            throw new ArgumentException(
                $"expected images [B, {Config.InChannels}, {Config.ImageSize}, {Config.ImageSize}], found [{string.Join(", ", s)}]", nameof(images));
        using var scope = NewDisposeScope();
        var h = F.max_pool2d(F.relu(_conv1.call(images)), 2);
        h = F.max_pool2d(F.relu(_conv2.call(h)), 2);
        h = F.max_pool2d(F.relu(_conv3.call(h)), 2);
        return F.relu(_fc1.call(h.flatten(1))).MoveToOuterDisposeScope();
    }

    /// <summary>The last layer alone: features → logits.</summary>
    public Tensor Head(Tensor features) => _fc2.call(features);

    /// <summary>Class scores before softmax.</summary>
    public Tensor Logits(Tensor images)
    {
        using var scope = NewDisposeScope();
        return Head(Features(images)).MoveToOuterDisposeScope();
    }

    /// <summary>Same as <see cref="Logits"/>.</summary>
    public override Tensor forward(Tensor images) => Logits(images);

    /// <summary>Writes <c>config.json</c>, <c>class_names.json</c> and <c>model.safetensors</c> into <paramref name="folder"/>, each atomically.</summary>
    public void Save(string folder, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, WeightsFileName), state_dict(), metadata);
        ClassifierFolder.WriteClassNames(folder, ClassNames);
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFileName), Config.ToJson());
    }

    /// <summary>Loads a folder written by <see cref="Save"/> (strict: every weight present with the config's shape, no other). Eval mode, CPU.</summary>
    /// <exception cref="InvalidInputException">Missing files, a bad config or class list, or weights that do not match (all problems in one line).</exception>
    public static ImageClassifier Load(string folder)
    {
        var config = ClassifierFolder.ReadConfig(folder, (json, source) => ImageClassifierConfig.FromJson(json, source));
        var names = ClassifierFolder.ReadClassNames(folder);
        var model = new ImageClassifier(config, names);
        try
        {
            ClassifierFolder.LoadWeights(model, folder);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private void Initialize(Generator generator) => ClassifierFolder.Initialize([_conv1, _conv2, _conv3, _fc1, _fc2], generator);
}
