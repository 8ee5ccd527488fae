using System.Globalization;
using DiffusionSharp.Audio;
using DiffusionSharp.Data;
using DiffusionSharp.IO;
using static TorchSharp.torch;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// Scores generated clips with a <see cref="SpokenDigitClassifier"/>: the Fréchet distance of its penultimate features
/// against the real clips it was trained without, its predicted classes, and their accuracy against the requested
/// classes. The held-out clips are rebuilt from what the weights' metadata records (data, label column, held-out
/// fraction, seed) with <see cref="StratifiedSplit"/>, so the reference set is never stored and never read from outside
/// the data it names (the bundled <c>data/spoken-digits</c> for the shipped classifier).
/// </summary>
public sealed class SpokenDigitEvaluation : IDisposable
{
    private readonly string _folder;
    private FeatureStatistics? _reference;

    private SpokenDigitEvaluation(string folder, SpokenDigitClassifier classifier)
    {
        _folder = folder;
        Classifier = classifier;
    }

    /// <summary>The classifier; owned by this evaluation.</summary>
    public SpokenDigitClassifier Classifier { get; }

    /// <summary>Feature statistics of the held-out real clips, computed on first use (it decodes the whole data set).</summary>
    /// <exception cref="InvalidInputException">Metadata that does not say how the classifier was trained, or data that cannot be opened.</exception>
    public FeatureStatistics Reference => _reference ??= ComputeReference();

    /// <summary>Loads the classifier in <paramref name="folder"/>; the held-out statistics follow on first use.</summary>
    /// <exception cref="InvalidInputException">A bad classifier folder.</exception>
    public static SpokenDigitEvaluation Open(string folder) => new(folder, SpokenDigitClassifier.Load(folder));

    private FeatureStatistics ComputeReference()
    {
        var (data, split) = HeldOut(_folder, Classifier);
        var (held, _) = SpokenDigitTrainer.Read(data, split.HeldOut);
        using (held)
        using (var features = SpokenDigitTrainer.Features(Classifier, held))
            return FrechetDistance.Statistics(features);
    }

    /// <summary>
    /// The data the classifier in <paramref name="folder"/> was trained on (fitted to its rate and length) and its split,
    /// rebuilt from the metadata of <c>model.safetensors</c>.
    /// </summary>
    /// <exception cref="InvalidInputException">A metadata key is missing or unreadable, or the data cannot be opened or does not match the classifier's classes.</exception>
    public static (AudioFolderDataset Data, StratifiedSplit Split) HeldOut(string folder, SpokenDigitClassifier classifier)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        var weights = Path.Combine(folder, ClassifierFolder.WeightsFileName);
        var meta = SafetensorsFile.ReadHeader(weights).Metadata;
        string Key(string k) => meta.TryGetValue(k, out var v) && !string.IsNullOrWhiteSpace(v) ? v
            : throw new InvalidInputException($"{weights}: no '{k}' in its metadata; retrain it with diffuse eval-classifier train --data");
        if (!double.TryParse(Key("held_out_fraction"), NumberStyles.Float, CultureInfo.InvariantCulture, out var fraction))
            throw new InvalidInputException($"{weights}: held_out_fraction '{Key("held_out_fraction")}' is not a number");
        if (!long.TryParse(Key("seed"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed))
            throw new InvalidInputException($"{weights}: seed '{Key("seed")}' is not an integer");
        var config = classifier.Config;
        var data = new DataSpec(Key("data"), LabelColumn: Key("label_column")).OpenAudio(config.SampleRate, 1, config.Length);
        if (!data.ClassNames.SequenceEqual(classifier.ClassNames))
            throw new InvalidInputException($"{weights}: its classes [{string.Join(", ", classifier.ClassNames)}] are not those of its data {Key("data")} [{string.Join(", ", data.ClassNames)}]");
        return (data, StratifiedSplit.Create(SpokenDigitTrainer.Labels(data), fraction, seed));
    }

    /// <summary>
    /// The clips of a folder of WAVs (an audiofolder: <c>metadata.jsonl</c> with <c>file_name</c> and <c>label</c>, as
    /// <c>diffuse sample --individual</c> writes, or just <c>*.wav</c> files), as <c>[N, 1, L]</c>, and their requested
    /// classes mapped to the classifier's class indices by name (null when unlabelled). Only the first
    /// <paramref name="count"/> clips when given. Strict: every clip must be mono, at the classifier's rate, of exactly its length.
    /// </summary>
    /// <exception cref="InvalidInputException">No folder or no WAVs, a clip of another rate, length or channel count (naming the file), or a label the classifier does not know.</exception>
    public static (Tensor Clips, long[]? Labels) LoadSamples(string folder, SpokenDigitClassifier classifier, int? count = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(classifier);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"SAMPLES: {folder} is not a folder of WAV files");
        var config = classifier.Config;
        var data = AudioFolderDataset.Open(folder, config.SampleRate, 1, config.Length);
        var n = Math.Min(data.Count, count ?? int.MaxValue);
        for (var i = 0; i < n; i++)
        {
            var path = Path.Combine(folder, data.Files[i]);
            var audio = WavFile.Read(path);
            if (audio.SampleRate != config.SampleRate || audio.Length != config.Length || audio.Channels.Count != 1)
                throw new InvalidInputException(
                    $"{path}: {audio.Length} samples at {audio.SampleRate} Hz in {audio.Channels.Count} channel(s); the classifier takes mono clips of exactly {config.Length} samples at {config.SampleRate} Hz");
        }
        var index = classifier.ClassNames.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => (long)p.i, StringComparer.Ordinal);
        var unknown = data.ClassNames.Where(c => !index.ContainsKey(c)).ToList();
        if (unknown.Count > 0)
            throw new InvalidInputException(
                $"{Path.Combine(folder, AudioFolderDataset.MetadataFileName)}: label {string.Join(", ", unknown.Select(u => $"'{u}'"))} is not a class of the classifier ({string.Join(", ", classifier.ClassNames)})");
        var (clips, own) = SpokenDigitTrainer.Read(data, Enumerable.Range(0, n).ToArray());
        return (clips, data.NumClasses > 0 ? own.Select(l => index[data.ClassNames[(int)l]]).ToArray() : null);
    }

    /// <summary>
    /// Checks that a model's clips are what the classifier takes (mono, its rate, its length), before any are generated.
    /// </summary>
    /// <param name="sampleRate">The model's rate in Hz.</param>
    /// <param name="length">The model's clip length in samples.</param>
    /// <param name="channels">The model's channels.</param>
    /// <param name="option">The option that asked for the scores, for the message (e.g. <c>--eval</c>).</param>
    /// <exception cref="InvalidInputException">Another rate, length or channel count.</exception>
    public void CheckClips(int sampleRate, long length, int channels, string option)
    {
        var config = Classifier.Config;
        if (sampleRate != config.SampleRate || length != config.Length || channels != 1)
            throw new InvalidInputException(
                $"{option}: the spoken-digit classifier scores mono clips of {config.Length} samples at {config.SampleRate} Hz; this model makes {channels}-channel clips of {length} samples at {sampleRate} Hz");
    }

    /// <summary>
    /// A model's class indices as the classifier's: by name, through the model's class names (its <c>class_names.json</c>),
    /// or, when it has none, as the same indices (a model trained on the bundled spoken digits numbers them as the classifier does).
    /// </summary>
    /// <param name="labels">The model's class index of each clip.</param>
    /// <param name="modelClassNames">The model's class names, or null.</param>
    /// <param name="option">The option that asked for the scores, for the message.</param>
    /// <exception cref="InvalidInputException">A class the classifier does not know.</exception>
    public long[] MapLabels(IReadOnlyList<long> labels, IReadOnlyList<string>? modelClassNames, string option)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var names = Classifier.ClassNames;
        var index = names.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => (long)p.i, StringComparer.Ordinal);
        return labels.Select(l =>
        {
            string name = modelClassNames is not null && l >= 0 && l < modelClassNames.Count ? modelClassNames[(int)l] : l.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return index.TryGetValue(name, out var c) ? c
                : throw new InvalidInputException($"{option}: the model's class '{name}' is not a class of the spoken-digit classifier ({string.Join(", ", names)})");
        }).ToArray();
    }

    /// <summary>Scores clips <c>[N, 1, L]</c> (N ≥ 2); <paramref name="labels"/> are the requested class indices, or null.</summary>
    /// <exception cref="InvalidInputException">Fewer than 2 clips, or a label count that is not N.</exception>
    public SpokenDigitEvaluationReport Evaluate(Tensor clips, IReadOnlyList<long>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(clips);
        var n = (int)clips.shape[0];
        if (n < 2) throw new InvalidInputException($"SAMPLES: the Fréchet distance needs at least 2 clips, found {n}");
        if (labels is not null && labels.Count != n) throw new InvalidInputException($"labels: expected one per clip ({n}), found {labels.Count}");
        var reference = Reference;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = SpokenDigitTrainer.Features(Classifier, clips);
        var fd = FrechetDistance.Compute(reference, FrechetDistance.Statistics(features));
        var probabilities = Classifier.Head(features).softmax(1);
        var (confidence, predicted) = probabilities.max(1);
        var classes = predicted.data<long>().ToArray();
        var counts = new int[Classifier.Config.NumClasses];
        foreach (var c in classes) counts[c]++;
        double? accuracy = labels is null ? null : SpokenDigitTrainer.Accuracy(classes, labels);
        int[][]? confusion = null;
        if (labels is not null)
        {
            confusion = Enumerable.Range(0, counts.Length).Select(_ => new int[counts.Length]).ToArray();
            for (var i = 0; i < n; i++)
                if (labels[i] >= 0 && labels[i] < counts.Length) confusion[labels[i]][classes[i]]++;
        }
        return new SpokenDigitEvaluationReport(n, fd, reference.Count, confidence.mean().item<float>(), counts, accuracy, confusion);
    }

    /// <inheritdoc />
    public void Dispose() => Classifier.Dispose();
}
