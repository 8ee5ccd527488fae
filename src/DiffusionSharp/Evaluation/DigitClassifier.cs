using DiffusionSharp.IO;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// A small CNN that classifies 28 x 28 MNIST-like digits and whose penultimate activations serve as the feature space
/// of FID-MNIST (see <see cref="DigitEvaluation"/>):
/// conv3x3(1→32) ReLU maxpool → conv3x3(32→64) ReLU maxpool → conv3x3(64→64) ReLU maxpool → fc(576→128) ReLU
/// [= <see cref="Features"/>] → fc(128→10) [= <see cref="Logits"/>]. About 130 k float32 parameters (0.5 MB).
/// State-dict keys: <c>conv1</c>, <c>conv2</c>, <c>conv3</c>, <c>fc1</c>, <c>fc2</c> (<c>.weight</c>, <c>.bias</c>).
/// No dropout or batch norm, so train and eval modes compute the same function.
/// </summary>
public sealed class DigitClassifier : nn.Module<Tensor, Tensor>
{
    /// <summary>Height and width of the input images.</summary>
    public const int ImageSize = 28;

    /// <summary>File name of the weights inside a classifier folder.</summary>
    public const string WeightsFileName = ClassifierFolder.WeightsFileName;

    /// <summary>File name of the config inside a classifier folder.</summary>
    public const string ConfigFileName = ClassifierFolder.ConfigFileName;

    private const int PooledSide = ImageSize / 2 / 2 / 2;

    [ComponentName(Name = "conv1")] private readonly Conv2d _conv1;
    [ComponentName(Name = "conv2")] private readonly Conv2d _conv2;
    [ComponentName(Name = "conv3")] private readonly Conv2d _conv3;
    [ComponentName(Name = "fc1")] private readonly Linear _fc1;
    [ComponentName(Name = "fc2")] private readonly Linear _fc2;

    /// <summary>
    /// A classifier with PyTorch's default initialisation (uniform in ±1/√fan_in for weights and biases), drawn from
    /// <paramref name="generator"/> when given, so a seed fixes the initial weights without touching the global generator.
    /// </summary>
    public DigitClassifier(DigitClassifierConfig? config = null, Generator? generator = null) : base(nameof(DigitClassifier))
    {
        Config = config ?? new DigitClassifierConfig();
        Config.Validate();
        _conv1 = nn.Conv2d(1, Config.Conv1Channels, 3, padding: 1);
        _conv2 = nn.Conv2d(Config.Conv1Channels, Config.Conv2Channels, 3, padding: 1);
        _conv3 = nn.Conv2d(Config.Conv2Channels, Config.Conv3Channels, 3, padding: 1);
        _fc1 = nn.Linear(Config.Conv3Channels * PooledSide * PooledSide, Config.FeatureDim);
        _fc2 = nn.Linear(Config.FeatureDim, Config.NumClasses);
        RegisterComponents();
        if (generator is not null) Initialize(generator);
    }

    /// <summary>The architecture.</summary>
    public DigitClassifierConfig Config { get; }

    /// <summary>Penultimate activations (after ReLU): <c>[B, 1, 28, 28]</c> float32 in [-1, 1] → <c>[B, FeatureDim]</c>.</summary>
    /// <exception cref="ArgumentException">Another input shape.</exception>
    public Tensor Features(Tensor images)
    {
        CheckImages(images);
        using var scope = NewDisposeScope();
        var h = F.max_pool2d(F.relu(_conv1.call(images)), 2);
        h = F.max_pool2d(F.relu(_conv2.call(h)), 2);
        h = F.max_pool2d(F.relu(_conv3.call(h)), 2);
        return F.relu(_fc1.call(h.flatten(1))).MoveToOuterDisposeScope();
    }

    /// <summary>Class scores before softmax: <c>[B, 1, 28, 28]</c> in [-1, 1] → <c>[B, NumClasses]</c>.</summary>
    public Tensor Logits(Tensor images)
    {
        using var scope = NewDisposeScope();
        return Head(Features(images)).MoveToOuterDisposeScope();
    }

    /// <summary>Same as <see cref="Logits"/>.</summary>
    public override Tensor forward(Tensor images) => Logits(images);

    /// <summary>The last layer alone: features <c>[B, FeatureDim]</c> → logits <c>[B, NumClasses]</c>.</summary>
    public Tensor Head(Tensor features) => _fc2.call(features);

    /// <summary>Number of scalar parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> (float32) into <paramref name="folder"/>, each atomically.</summary>
    public void Save(string folder, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, WeightsFileName), state_dict(), metadata);
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFileName), Config.ToJson());
    }

    /// <summary>
    /// Loads a folder written by <see cref="Save"/>. Strict: every weight must be present with the config's shape, and
    /// no other tensor may be stored. Returned in eval mode on the CPU.
    /// </summary>
    /// <exception cref="InvalidInputException">Missing files, a bad config, or weights that do not match it (all problems in one line).</exception>
    public static DigitClassifier Load(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"{folder}: classifier folder not found");
        var config = DigitClassifierConfig.Load(Path.Combine(folder, ConfigFileName));
        var model = new DigitClassifier(config);
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

    private static void CheckImages(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var s = images.shape;
        if (s.Length != 4 || s[1] != 1 || s[2] != ImageSize || s[3] != ImageSize)
            throw new ArgumentException($"expected images [B, 1, {ImageSize}, {ImageSize}], found [{string.Join(", ", s)}]", nameof(images));
    }
}
