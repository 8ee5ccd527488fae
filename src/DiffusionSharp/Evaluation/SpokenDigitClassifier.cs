using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// A small CNN on log-mel spectrograms that classifies short clips (the bundled spoken digits) and whose penultimate
/// activations are the feature space of the Fréchet distance on audio: <see cref="LogMel"/> → conv3x3(1→16) ReLU
/// maxpool 2x2 → conv3x3(16→32) ReLU maxpool 2x2 → conv3x3(32→64) ReLU maxpool 2 (mel) x 4 (time) → fc(→128) ReLU
/// [= <see cref="Features"/>] → fc(128→10). Input <c>[B, 1, L]</c> float32 in [-1, 1]. No dropout or batch norm, so
/// train and eval modes compute the same function. A folder holds <c>config.json</c>, <c>class_names.json</c> and
/// <c>model.safetensors</c> (<see cref="ClassifierFolder"/>, as for <see cref="ImageClassifier"/>).
/// </summary>
public sealed class SpokenDigitClassifier : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv1")] private readonly Conv2d _conv1;
    [ComponentName(Name = "conv2")] private readonly Conv2d _conv2;
    [ComponentName(Name = "conv3")] private readonly Conv2d _conv3;
    [ComponentName(Name = "fc1")] private readonly Linear _fc1;
    [ComponentName(Name = "fc2")] private readonly Linear _fc2;

    // Not a module or tensor field, so RegisterComponents leaves its window and filterbank out of the state dict.
    private readonly LogMel _logMel;

    /// <summary>A classifier with PyTorch's default initialisation drawn from <paramref name="generator"/> when given.</summary>
    /// <exception cref="InvalidInputException">A bad config, or class names whose count is not num_classes.</exception>
    public SpokenDigitClassifier(SpokenDigitClassifierConfig config, IReadOnlyList<string> classNames, Generator? generator = null) : base(nameof(SpokenDigitClassifier))
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(classNames);
        config.Validate();
        if (classNames.Count != config.NumClasses)
            throw new InvalidInputException($"{ClassifierFolder.ClassNamesFileName}: {classNames.Count} names for num_classes = {config.NumClasses}");
        Config = config;
        ClassNames = classNames.ToArray();
        _conv1 = nn.Conv2d(1, config.Conv1Channels, 3, padding: 1);
        _conv2 = nn.Conv2d(config.Conv1Channels, config.Conv2Channels, 3, padding: 1);
        _conv3 = nn.Conv2d(config.Conv2Channels, config.Conv3Channels, 3, padding: 1);
        _fc1 = nn.Linear(config.Conv3Channels * config.PooledMel * config.PooledFrames, config.FeatureDim);
        _fc2 = nn.Linear(config.FeatureDim, config.NumClasses);
        RegisterComponents();
        _logMel = new LogMel(config.SampleRate, config.NFft, config.HopLength, config.MelBands);
        if (generator is not null) ClassifierFolder.Initialize([_conv1, _conv2, _conv3, _fc1, _fc2], generator);
    }

    /// <summary>The architecture.</summary>
    public SpokenDigitClassifierConfig Config { get; }

    /// <summary>The name of each class, in output order.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of scalar parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The log-mel front end: <c>[B, 1, L]</c> → <c>[B, 1, MelBands, Frames]</c>.</summary>
    public Tensor Spectrogram(Tensor waveforms)
    {
        CheckClips(waveforms);
        return _logMel.Compute(waveforms);
    }

    /// <summary>Penultimate activations (after ReLU): <c>[B, 1, L]</c> float32 in [-1, 1] → <c>[B, FeatureDim]</c>.</summary>
    /// <exception cref="ArgumentException">Another input shape.</exception>
    public Tensor Features(Tensor waveforms)
    {
        CheckClips(waveforms);
        using var scope = NewDisposeScope();
        var h = F.max_pool2d(F.relu(_conv1.call(_logMel.Compute(waveforms))), 2);
        h = F.max_pool2d(F.relu(_conv2.call(h)), 2);
        h = F.max_pool2d(F.relu(_conv3.call(h)), [2, 4]);
        return F.relu(_fc1.call(h.flatten(1))).MoveToOuterDisposeScope();
    }

    /// <summary>The last layer alone: features → logits.</summary>
    public Tensor Head(Tensor features) => _fc2.call(features);

    /// <summary>Class scores before softmax: <c>[B, 1, L]</c> → <c>[B, NumClasses]</c>.</summary>
    public Tensor Logits(Tensor waveforms)
    {
        using var scope = NewDisposeScope();
        return Head(Features(waveforms)).MoveToOuterDisposeScope();
    }

    /// <summary>Same as <see cref="Logits"/>.</summary>
    public override Tensor forward(Tensor waveforms) => Logits(waveforms);

    /// <summary>Writes <c>config.json</c>, <c>class_names.json</c> and <c>model.safetensors</c> into <paramref name="folder"/>, each atomically.</summary>
    public void Save(string folder, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        IO.SafetensorsFile.Save(Path.Combine(folder, ClassifierFolder.WeightsFileName), state_dict(), metadata);
        ClassifierFolder.WriteClassNames(folder, ClassNames);
        IO.AtomicFile.WriteAllText(Path.Combine(folder, ClassifierFolder.ConfigFileName), Config.ToJson());
    }

    /// <summary>Whether <paramref name="folder"/>'s config names this class (so <see cref="Load"/> is the loader to use).</summary>
    public static bool IsClassifierFolder(string folder) => ClassifierFolder.ClassNameOf(folder) == SpokenDigitClassifierConfig.ClassName;

    /// <summary>Loads a folder written by <see cref="Save"/> (strict: every weight present with the config's shape, no other). Eval mode, CPU.</summary>
    /// <exception cref="InvalidInputException">Missing files, a bad config or class list, or weights that do not match (all problems in one line).</exception>
    public static SpokenDigitClassifier Load(string folder)
    {
        var config = ClassifierFolder.ReadConfig(folder, (json, source) => SpokenDigitClassifierConfig.FromJson(json, source));
        var model = new SpokenDigitClassifier(config, ClassifierFolder.ReadClassNames(folder));
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

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _logMel.Dispose();
        base.Dispose(disposing);
    }

    private void CheckClips(Tensor waveforms)
    {
        ArgumentNullException.ThrowIfNull(waveforms);
        var s = waveforms.shape;
        if (s.Length != 3 || s[1] != 1 || s[2] != Config.Length)
            throw new ArgumentException($"expected clips [B, 1, {Config.Length}], found [{string.Join(", ", s)}]", nameof(waveforms));
    }
}
