using System.Globalization;
using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using DiffusionSharp.IO;
using DiffusionSharp.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Evaluation;

/// <summary>The log-mel front end, the spoken-digit classifier, its trainer and split, and the shipped classifier.</summary>
public sealed class SpokenDigitClassifierTests
{
    /// <summary>The shipped classifier's held-out accuracy must stay at least this (it records 1.0000; see its README).</summary>
    private const double HeldOutFloor = 0.95;

    private static readonly string ShippedFolder = Path.Combine(TestPaths.RepoRoot, "models", "spoken-digit-classifier");

    /// <summary>Tones at 8 kHz: class 0 a 400 Hz sine, class 1 a 1,800 Hz sine, each of seeded level, phase and onset.</summary>
    private sealed class Tones(int count, int length) : IDataset
    {
        public int Count => count;
        public IReadOnlyList<int> SampleShape => [1, length];
        public int NumClasses => 2;
        public IReadOnlyList<string> ClassNames => ["low", "high"];

        public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
        {
            for (var n = 0; n < indices.Length; n++)
            {
                var i = indices[n];
                var label = i % 2;
                if (!labels.IsEmpty) labels[n] = label;
                var rng = new Random(i + 11);
                var (hz, level, phase, onset) = (label == 0 ? 400.0 : 1800.0, 0.2 + 0.6 * rng.NextDouble(), rng.NextDouble() * 6.28, rng.Next(length / 4));
                for (var k = 0; k < length; k++)
                    samples[n * length + k] = k < onset ? 0f : (float)(level * Math.Sin(2 * Math.PI * hz * k / 8000 + phase));
            }
        }
    }

    private static readonly SpokenDigitClassifierConfig TinyConfig = new(Length: 2048, Conv1Channels: 4, Conv2Channels: 8, Conv3Channels: 8, FeatureDim: 16, NumClasses: 2);

    private static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return DisposeScopeManager.Statistics.ThreadTotalLiveCount;
    }

    private static Tensor Sine(double hz, double amplitude, int length = 8192) =>
        tensor(Enumerable.Range(0, length).Select(k => (float)(amplitude * Math.Sin(2 * Math.PI * hz * k / 8000))).ToArray(), [1, 1, length]);

    [Fact]
    public void Should_compute_a_zero_mean_log_mel_that_peaks_in_the_band_of_a_tone_and_ignores_its_level()
    {
        // Given the classifier's front end, a 1 kHz tone, and white noise at two levels (broadband: power far above the 1e-6 floor)
        using var logMel = new LogMel(8000, 256, 128, 40);
        using var tone = Sine(1000, 0.8);
        using var g = new Generator(9);
        using var noise = randn([1, 1, 8192], generator: g) * 0.1;
        using var quieter = noise * 0.25;

        // When their log-mel spectrograms are computed
        using var a = logMel.Compute(tone);
        using var n1 = logMel.Compute(noise);
        using var n2 = logMel.Compute(quieter);

        // Then the shape is [1, 1, 40, 65], the mean is 0, the level of the noise changes nothing (mean removed), and
        // the tone's peak band is the one whose triangle is highest at 1 kHz
        Assert.Equal(new long[] { 1, 1, 40, 65 }, a.shape);
        Assert.Equal(0, a.mean().item<float>(), 4);
        Assert.True(n1.allclose(n2, atol: 1e-3), $"level changed the log-mel by {(n1 - n2).abs().max().item<float>()}");
        var bank = LogMel.Filterbank(8000, 256, 40);
        var bin1k = 1000 * 256 / 8000;
        var expected = Enumerable.Range(0, 40).MaxBy(m => bank[m * 129 + bin1k]);
        using var perBand = a[0, 0].mean([1]);
        Assert.Equal(expected, (int)perBand.argmax().item<long>());
        // HTK triangles: each band peaks at 1 between its edges, and the scale round-trips
        Assert.Equal(1000, LogMel.MelToHz(LogMel.HzToMel(1000)), 9);
        Assert.Equal(1000, LogMel.HzToMel(1000), 0);
        Assert.All(Enumerable.Range(0, 40), m => Assert.InRange(bank.Skip(m * 129).Take(129).Max(), 0.3f, 1f));
    }

    [Fact]
    public void Should_keep_only_the_frequencies_below_the_cutoff_when_low_passing()
    {
        // Given a 500 Hz sine plus a 3 kHz sine (both whole periods in 8,192 samples would not matter: the FFT is exact)
        using var low = Sine(500, 0.4);
        using var both = low + Sine(3000, 0.4);

        // When the sum is low-passed at 1 kHz
        using var filtered = SpokenDigitTrainer.LowPass(both, 1000, 8000);

        // Then the 500 Hz sine is what is left
        Assert.True(filtered.allclose(low, atol: 1e-4), $"max error {(filtered - low).abs().max().item<float>()}");
    }

    [Fact]
    public void Should_split_the_spoken_digits_forty_per_digit_the_same_way_for_a_seed()
    {
        // Given the labels of the bundled 2,000 spoken digits (read from metadata.jsonl, 200 per digit)
        var labels = File.ReadLines(Path.Combine(TestPaths.RepoRoot, "data", "spoken-digits", "metadata.jsonl"))
            .Select(l => (long)System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("label").GetInt32()).ToArray();

        // When they are split 20 % per class twice with seed 0 and once with seed 1
        var a = StratifiedSplit.Create(labels, 0.2, 0);
        var b = StratifiedSplit.Create(labels, 0.2, 0);
        var c = StratifiedSplit.Create(labels, 0.2, 1);

        // Then 40 of each digit are held out, the same ones for the same seed, other ones for another, disjoint from training
        Assert.Equal(400, a.HeldOut.Count);
        Assert.All(Enumerable.Range(0, 10), d => Assert.Equal(40, a.HeldOut.Count(i => labels[i] == d)));
        Assert.Equal(a.HeldOut, b.HeldOut);
        Assert.NotEqual(a.HeldOut, c.HeldOut);
        Assert.Empty(a.Train.Intersect(a.HeldOut));
        Assert.Equal(2000, a.Train.Count + a.HeldOut.Count);
    }

    [Fact]
    public void Should_round_trip_weights_config_and_class_names_with_no_front_end_tensor_in_the_state_dict()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            // Given a seeded classifier saved to a folder
            using var g = new Generator(4);
            using var model = new SpokenDigitClassifier(TinyConfig, ["low", "high"], g);
            model.Save(dir);

            // When it is loaded back, then its logits, config and names are identical, and the state dict holds only the layers
            using (var loaded = SpokenDigitClassifier.Load(dir))
            {
                using var x = (rand([3, 1, TinyConfig.Length], generator: g) * 2 - 1);
                using var expected = model.Logits(x);
                using var actual = loaded.Logits(x);
                Assert.True(expected.allclose(actual, rtol: 0, atol: 0), "logits differ after save/load");
                Assert.Equal(TinyConfig, loaded.Config);
                Assert.Equal(["low", "high"], loaded.ClassNames);
            }
            Assert.Equal(["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "conv3.bias", "conv3.weight", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"],
                SafetensorsFile.ReadHeader(Path.Combine(dir, "model.safetensors")).Tensors.Keys.Order(StringComparer.Ordinal));
            Assert.True(SpokenDigitClassifier.IsClassifierFolder(dir));

            // And another class's config, or a clip of the wrong length, is refused by name
            var config = Path.Combine(dir, "config.json");
            File.WriteAllText(config, File.ReadAllText(config).Replace("SpokenDigitClassifier", "ImageClassifier"));
            var e = Assert.Throws<InvalidInputException>(() => SpokenDigitClassifier.Load(dir));
            Assert.Contains("_class_name", e.Message);
            Assert.Throws<ArgumentException>(() => model.Features(zeros(1, 1, 100)));
            Assert.Throws<InvalidInputException>(() => new SpokenDigitClassifierConfig(Length: 512).Validate());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_learn_tones_deterministically_without_leaking_tensors()
    {
        // Given 40 tone clips split by seed
        var data = new Tones(40, TinyConfig.Length);
        var split = StratifiedSplit.Create(SpokenDigitTrainer.Labels(data), 0.2, seed: 1);
        var options = new SpokenDigitTrainingOptions(Epochs: 4, BatchSize: 8, LearningRate: 3e-3, MaxShift: 200, Seed: 5);
        var before = LiveTensors();

        // When a classifier trains twice with the same seed
        var first = SpokenDigitTrainer.Train(data, split, options, TinyConfig);
        var second = SpokenDigitTrainer.Train(data, split, options, TinyConfig);

        // Then it tells the held-out tones apart, the runs are identical, and the loss fell
        try
        {
            Assert.True(first.HeldOutAccuracy >= 0.85, $"held-out accuracy {first.HeldOutAccuracy}");
            Assert.Equal(first.EpochLosses, second.EpochLosses);
            Assert.True(first.EpochLosses[^1] < first.EpochLosses[0], "loss did not fall");
        }
        finally
        {
            first.Model.Dispose();
            second.Model.Dispose();
        }
        // And a run leaves at most a few tensors, never one per step: a run 3x as long leaves no more than a short one
        var afterTwo = LiveTensors();
        using (SpokenDigitTrainer.Train(data, split, options with { Epochs = 1 }, TinyConfig).Model) { }
        var afterShort = LiveTensors();
        using (SpokenDigitTrainer.Train(data, split, options with { Epochs = 3 }, TinyConfig).Model) { }
        var afterLong = LiveTensors();
        Assert.InRange(afterTwo - before, 0, 8);
        Assert.Equal(afterShort - afterTwo, afterLong - afterShort);
    }

    [Fact]
    public void Should_ship_a_small_classifier_whose_held_out_accuracy_and_calibration_hold()
    {
        // Given the shipped classifier, and its held-out clips rebuilt from its metadata and the bundled data
        using var model = SpokenDigitClassifier.Load(ShippedFolder);
        var (data, split) = SpokenDigitEvaluation.HeldOut(ShippedFolder, model);
        var metadata = SafetensorsFile.ReadHeader(Path.Combine(ShippedFolder, "model.safetensors")).Metadata;

        // When its accuracy is measured again and it calibrates
        var accuracy = SpokenDigitTrainer.Accuracy(model, data, split.HeldOut);
        var rows = SpokenDigitTrainer.Calibrate(model, data, split).ToDictionary(r => r.Name);

        // Then it is small, its accuracy is the recorded one and above the floor, and the calibration orders the sets:
        // the held-out clips score 0 against themselves, other real clips little, distortions much more, noise most
        Assert.True(new FileInfo(Path.Combine(ShippedFolder, "model.safetensors")).Length < 1_000_000, "weights over 1 MB");
        Assert.Equal(400, split.HeldOut.Count);
        Assert.Equal(double.Parse(metadata["held_out_accuracy"], CultureInfo.InvariantCulture), accuracy, 3);
        Assert.True(accuracy >= HeldOutFloor, $"held-out accuracy {accuracy:P2} is below {HeldOutFloor:P0}");
        Assert.Equal(0, rows["held-out"].Fid, 6);
        Assert.True(rows["train"].Fid < rows["lowpass-2k"].Fid, $"train {rows["train"].Fid} vs low-pass 2 kHz {rows["lowpass-2k"].Fid}");
        Assert.True(rows["lowpass-2k"].Fid < rows["lowpass-1k"].Fid, $"low-pass 2 kHz {rows["lowpass-2k"].Fid} vs 1 kHz {rows["lowpass-1k"].Fid}");
        Assert.True(rows["lowpass-1k"].Fid < rows["noise"].Fid, $"low-pass 1 kHz {rows["lowpass-1k"].Fid} vs noise {rows["noise"].Fid}");
        Assert.True(rows["train"].Top1 >= HeldOutFloor, $"training clips {rows["train"].Top1}");
    }
}
