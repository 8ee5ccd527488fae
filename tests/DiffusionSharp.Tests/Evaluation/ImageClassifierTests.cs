using System.Text.Json;
using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using DiffusionSharp.IO;
using DiffusionSharp.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Evaluation;

public sealed class ImageClassifierTests
{
    /// <summary>8x8 RGB images: class c is mostly colour channel c (red, green, blue) plus seeded noise; the last class has 3 images only.</summary>
    private sealed class ColourSquares(int count) : IImageDataset
    {
        public int Count => count;
        public int Channels => 3;
        public int Height => 8;
        public int Width => 8;
        public int NumClasses => 3;
        public IReadOnlyList<string> ClassNames => ["red", "green", "blue"];

        public long Label(int i) => i < count - 3 ? i % 2 : 2;

        public void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels)
        {
            for (var n = 0; n < indices.Length; n++)
            {
                var label = Label(indices[n]);
                if (!labels.IsEmpty) labels[n] = label;
                var rng = new Random(indices[n] + 1);
                for (var c = 0; c < 3; c++)
                    for (var p = 0; p < 64; p++)
                        images[n * 192 + c * 64 + p] = (c == label ? 0.6f : -0.6f) + (rng.Next(1000) / 1000f - 0.5f) * 0.8f;
            }
        }
    }

    private static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return DisposeScopeManager.Statistics.ThreadTotalLiveCount;
    }

    [Fact]
    public void Should_split_each_class_by_seed_and_keep_tiny_classes_for_training()
    {
        // Given 40 images of class 0, 10 of class 1 and 3 of class 2
        long[] labels = [.. Enumerable.Repeat(0L, 40), .. Enumerable.Repeat(1L, 10), .. Enumerable.Repeat(2L, 3)];

        // When they are split 20 % per class
        var a = StratifiedSplit.Create(labels, 0.2, seed: 7);
        var b = StratifiedSplit.Create(labels, 0.2, seed: 7);
        var c = StratifiedSplit.Create(labels, 0.2, seed: 8);

        // Then 8 + 2 are held out, class 2 is training-only, the sets are disjoint and cover everything, and the seed fixes them
        Assert.Equal(8, a.HeldOut.Count(i => labels[i] == 0));
        Assert.Equal(2, a.HeldOut.Count(i => labels[i] == 1));
        Assert.DoesNotContain(a.HeldOut, i => labels[i] == 2);
        Assert.Equal([2], a.TrainOnlyClasses);
        Assert.Empty(a.Train.Intersect(a.HeldOut));
        Assert.Equal(Enumerable.Range(0, labels.Length), a.Train.Concat(a.HeldOut).Order());
        Assert.Equal(a.HeldOut, b.HeldOut);
        Assert.NotEqual(a.HeldOut, c.HeldOut);
        Assert.Throws<InvalidInputException>(() => StratifiedSplit.Create(labels, 0.7, 0));
    }

    [Fact]
    public void Should_learn_colour_classes_deterministically_without_leaking_tensors()
    {
        // Given 60 coloured squares split by seed
        var data = new ColourSquares(63);
        var labels = Enumerable.Range(0, data.Count).Select(data.Label).ToArray();
        var split = StratifiedSplit.Create(labels, 0.2, seed: 1);
        var config = new ImageClassifierConfig(ImageSize: 8, Conv1Channels: 8, Conv2Channels: 8, Conv3Channels: 8, FeatureDim: 16, NumClasses: 3);
        var before = LiveTensors();

        // When a classifier trains twice with the same seed
        var first = ImageClassifierTrainer.Train(data, split, epochs: 20, batchSize: 8, seed: 5, learningRate: 3e-3, maxShift: 1, config: config);
        var second = ImageClassifierTrainer.Train(data, split, epochs: 20, batchSize: 8, seed: 5, learningRate: 3e-3, maxShift: 1, config: config);

        // Then it recognises the held-out colours, the runs are identical, and once the models are disposed no tensor is left
        try
        {
            Assert.True(first.Top1 >= 0.9, $"held-out top-1 {first.Top1}");
            Assert.Equal(1.0, first.Top5);
            Assert.Equal(first.EpochLosses, second.EpochLosses);
            Assert.True(first.EpochLosses[^1] < first.EpochLosses[0], "loss did not fall");
        }
        finally
        {
            first.Model.Dispose();
            second.Model.Dispose();
        }
        // (a run leaves at most a few tensors behind, and never one per step: a run 10x as long leaves no more)
        var afterTwo = LiveTensors();
        using (var shortRun = ImageClassifierTrainer.Train(data, split, epochs: 2, batchSize: 8, seed: 5, config: config).Model) { }
        var afterShort = LiveTensors();
        using (var longRun = ImageClassifierTrainer.Train(data, split, epochs: 20, batchSize: 8, seed: 5, config: config).Model) { }
        var afterLong = LiveTensors();
        Assert.InRange(afterTwo - before, 0, 8);
        Assert.Equal(afterShort - afterTwo, afterLong - afterShort);
    }

    [Fact]
    public void Should_round_trip_weights_and_class_names_and_refuse_a_wrong_class_list()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            // Given a seeded classifier saved to a folder
            using var g = new Generator(3);
            var config = new ImageClassifierConfig(ImageSize: 16, NumClasses: 3);
            using var model = new ImageClassifier(config, ["face-smiling", "heart", "flag"], g);
            model.Save(dir);

            // When it is loaded back, then logits and names are identical
            using (var loaded = ImageClassifier.Load(dir))
            {
                using var x = rand([2, 3, 16, 16], generator: g) * 2 - 1;
                using var expected = model.Logits(x);
                using var actual = loaded.Logits(x);
                Assert.True(expected.allclose(actual, rtol: 0, atol: 0), "logits differ after save/load");
                Assert.Equal(model.ClassNames, loaded.ClassNames);
                Assert.Equal(config, loaded.Config);
            }

            // And a class list of the wrong length is one error naming the file
            File.WriteAllText(Path.Combine(dir, ImageClassifier.ClassNamesFileName), JsonSerializer.Serialize(new[] { "a", "b" }));
            var e = Assert.Throws<InvalidInputException>(() => ImageClassifier.Load(dir));
            Assert.Contains(ImageClassifier.ClassNamesFileName, e.Message);
            Assert.Throws<InvalidInputException>(() => new ImageClassifierConfig(ImageSize: 12).Validate());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_rank_blur_and_noise_above_real_images_in_the_calibration()
    {
        // Given a trained tiny classifier
        var data = new ColourSquares(63);
        var split = StratifiedSplit.Create(Enumerable.Range(0, data.Count).Select(data.Label).ToArray(), 0.2, seed: 1);
        var config = new ImageClassifierConfig(ImageSize: 8, Conv1Channels: 8, Conv2Channels: 8, Conv3Channels: 8, FeatureDim: 16, NumClasses: 3);
        var result = ImageClassifierTrainer.Train(data, split, epochs: 10, batchSize: 8, seed: 2, learningRate: 1e-2, config: config);
        using var model = result.Model;

        // When it calibrates
        var rows = ImageClassifierTrainer.Calibrate(model, data, split).ToDictionary(r => r.Name);

        // Then the held-out set scores 0 against itself and noise scores far above the real images
        Assert.Equal(0, rows["held-out"].Fid, 6);
        Assert.True(rows["noise"].Fid > rows["train"].Fid, $"noise {rows["noise"].Fid} vs train {rows["train"].Fid}");
        Assert.Null(rows["noise"].Top1);
    }

    [Fact]
    public void Should_blur_each_colour_channel_separately()
    {
        // Given an image whose red channel is constant and green channel has one bright pixel
        using var image = zeros(1, 3, 9, 9);
        image[0, 0].fill_(0.5);
        image[0, 1, 4, 4] = tensor(1f);

        // When it is blurred
        using var blurred = ImageClassifierTrainer.Blur(image, 1);

        // Then the constant channel is unchanged, the spike spreads keeping its mass, and blue stays zero
        Assert.True(blurred[0, 0].allclose(image[0, 0], atol: 1e-6));
        Assert.Equal(1.0, blurred[0, 1].sum().item<float>(), 4);
        Assert.True(blurred[0, 1, 4, 4].item<float>() < 0.2f);
        Assert.Equal(0, blurred[0, 2].abs().max().item<float>());
    }

    [Fact]
    public void Should_ship_an_emoji_classifier_whose_held_out_accuracy_matches_its_metadata()
    {
        // Given the shipped classifier and the bundled emoji at its resolution
        var folder = Path.Combine(TestPaths.RepoRoot, "models", "emoji-classifier");
        using var model = ImageClassifier.Load(folder);
        var metadata = SafetensorsFile.ReadHeader(Path.Combine(folder, ImageClassifier.WeightsFileName)).Metadata;
        var data = new DataSpec("emoji", ImageSize: model.Config.ImageSize, LabelColumn: metadata["label_column"]).Open(model.Config.ImageSize);
        var labels = new long[data.Count];
        data.FillBatch(Enumerable.Range(0, data.Count).ToArray(), new float[(long)data.Count * data.ImageSize], labels);
        var split = StratifiedSplit.Create(labels, double.Parse(metadata["held_out_fraction"], System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(metadata["seed"], System.Globalization.CultureInfo.InvariantCulture));

        // When its held-out accuracy is measured again
        var (top1, top5) = ImageClassifierTrainer.Accuracy(model, data, split.HeldOut);

        // Then it is the recorded one, and the class list is the data's
        Assert.Equal(model.ClassNames, data.ClassNames);
        Assert.Equal(double.Parse(metadata["held_out_top1"], System.Globalization.CultureInfo.InvariantCulture), top1, 3);
        Assert.Equal(double.Parse(metadata["held_out_top5"], System.Globalization.CultureInfo.InvariantCulture), top5, 3);
        Assert.True(top1 > 0.5, $"top-1 {top1}");
    }

    [Fact]
    public void Should_report_fid_and_near_copies_of_colour_samples_in_one_command()
    {
        // Given a samples folder holding copies of the shipped emoji classifier's held-out emoji
        var folder = Path.Combine(TestPaths.RepoRoot, "models", "emoji-classifier");
        var data = (ImageFolderDataset)new DataSpec("emoji", ImageSize: 32, LabelColumn: "subgroup").Open(32);
        var labels = new long[data.Count];
        data.FillBatch(Enumerable.Range(0, data.Count).ToArray(), new float[(long)data.Count * 3 * 32 * 32], labels);
        var split = StratifiedSplit.Create(labels, 0.2, 0);
        var dir = TestPaths.NewTempDir();
        try
        {
            foreach (var i in split.HeldOut) File.Copy(data.Files[i], Path.Combine(dir, Path.GetFileName(data.Files[i])));

            // When diffuse eval checks them against the emoji with the classifier
            var r = CliRunner.Run("eval", dir, "--nearest-to", "emoji", "--classifier", folder, "--json", "--threads", "2");

            // Then every one is a near-copy and their FID against the held-out emoji is 0 (they are the same images)
            Assert.True(r.ExitCode == 0, r.StdErr);
            using var json = JsonDocument.Parse(r.StdOut);
            Assert.Equal(split.HeldOut.Count, json.RootElement.GetProperty("near_copies").GetInt32());
            Assert.Equal(split.HeldOut.Count, json.RootElement.GetProperty("fid_reference_images").GetInt32());
            Assert.InRange(json.RootElement.GetProperty("fid").GetDouble(), -1e-3, 1e-3);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The shipped emoji classifier's folder, the bundled emoji at 32x32 by subgroup, its held-out split, each image's
    /// value in <paramref name="column"/> (by full path), and the classifier's recorded held-out top-1.
    /// </summary>
    private static (string Folder, ImageFolderDataset Data, StratifiedSplit Split, Dictionary<string, string> ValueOf, double Top1) HeldOutEmoji(string column)
    {
        var folder = Path.Combine(TestPaths.RepoRoot, "models", "emoji-classifier");
        var data = (ImageFolderDataset)new DataSpec("emoji", ImageSize: 32, LabelColumn: "subgroup").Open(32);
        var labels = new long[data.Count];
        data.FillBatch(Enumerable.Range(0, data.Count).ToArray(), new float[(long)data.Count * 3 * 32 * 32], labels);
        var split = StratifiedSplit.Create(labels, 0.2, 0);
        var metadata = ImageFolderMetadata.Read(Path.Combine(data.Root, ImageFolderMetadata.FileName));
        var valueOf = metadata.Files.Zip(metadata.Column(column)!).ToDictionary(p => Path.GetFullPath(Path.Combine(data.Root, p.First)), p => p.Second!);
        var weights = SafetensorsFile.ReadHeader(Path.Combine(folder, ImageClassifier.WeightsFileName)).Metadata;
        return (folder, data, split, valueOf, double.Parse(weights["held_out_top1"], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Should_score_guided_accuracy_of_group_labelled_samples_through_the_subgroup_classifier()
    {
        // Given copies of the held-out emoji, each labelled (as sample --individual writes) with its emoji group
        var (folder, data, split, groupOf, top1) = HeldOutEmoji("group");
        var dir = TestPaths.NewTempDir();
        try
        {
            var files = split.HeldOut.Select(i => Path.GetFileName(data.Files[i])).ToArray();
            foreach (var i in split.HeldOut) File.Copy(data.Files[i], Path.Combine(dir, Path.GetFileName(data.Files[i])));
            AudioFolderMetadata.Write(dir, files, split.HeldOut.Select(i => groupOf[Path.GetFullPath(data.Files[i])]).ToArray());

            // When diffuse eval scores them with the subgroup classifier
            var r = CliRunner.Run("eval", dir, "--nearest-to", "emoji", "--classifier", folder, "--json", "--threads", "2");

            // Then the accuracy is read through the group column, and is at least the subgroup accuracy
            // (a right subgroup is a right group), but not perfect
            Assert.True(r.ExitCode == 0, r.StdErr);
            using var json = JsonDocument.Parse(r.StdOut);
            Assert.Equal("group", json.RootElement.GetProperty("accuracy_column").GetString());
            var accuracy = json.RootElement.GetProperty("accuracy").GetDouble();
            Assert.InRange(accuracy, top1 - 1e-9, 0.999);

            // And labels that name no class and no column value are a one-line error (exit 2)
            AudioFolderMetadata.Write(dir, files, files.Select(_ => "no such group").ToArray());
            var bad = CliRunner.Run("eval", dir, "--nearest-to", "emoji", "--classifier", folder, "--threads", "2");
            Assert.Equal(2, bad.ExitCode);
            Assert.Contains("metadata.jsonl", bad.StdErr);
            Assert.Contains("no such group", bad.StdErr);
            Assert.DoesNotContain("   at ", bad.StdErr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_score_prompted_samples_by_the_subgroup_of_their_training_caption()
    {
        // Given copies of the held-out emoji, each with its caption as the prompt (as sample --prompt --individual writes),
        // and one more image whose prompt is no training caption
        var (folder, data, split, captionOf, top1) = HeldOutEmoji("text");
        var dir = TestPaths.NewTempDir();
        try
        {
            var lines = new List<string>();
            foreach (var i in split.HeldOut)
            {
                var name = Path.GetFileName(data.Files[i]);
                File.Copy(data.Files[i], Path.Combine(dir, name));
                lines.Add(JsonSerializer.Serialize(new Dictionary<string, string> { ["file_name"] = name, ["text"] = captionOf[Path.GetFullPath(data.Files[i])] }));
            }
            File.Copy(data.Files[split.HeldOut[0]], Path.Combine(dir, "zz-unseen.png"));
            lines.Add("""{"file_name": "zz-unseen.png", "text": "a purple elephant on a bicycle"}""");
            File.WriteAllLines(Path.Combine(dir, ImageFolderMetadata.FileName), lines);

            // When diffuse eval scores them with the subgroup classifier
            var r = CliRunner.Run("eval", dir, "--nearest-to", "emoji", "--classifier", folder, "--json", "--threads", "2");

            // Then every captioned sample is scored against its caption's subgroup, which gives the classifier's own
            // held-out accuracy, and the unseen prompt is left out
            Assert.True(r.ExitCode == 0, r.StdErr);
            using var json = JsonDocument.Parse(r.StdOut);
            Assert.Equal("subgroup", json.RootElement.GetProperty("accuracy_column").GetString());
            Assert.Equal(split.HeldOut.Count, json.RootElement.GetProperty("accuracy_samples").GetInt32());
            Assert.Equal(split.HeldOut.Count + 1, json.RootElement.GetProperty("samples").GetInt32());
            Assert.Equal(top1, json.RootElement.GetProperty("accuracy").GetDouble(), 3);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_map_classifier_classes_to_the_column_they_determine()
    {
        // Given metadata where each subgroup lies in one group, and a column ("mixed") that no subgroup determines
        var dir = TestPaths.NewTempDir();
        try
        {
            File.WriteAllText(Path.Combine(dir, ImageFolderMetadata.FileName), string.Join("\n",
                "{\"file_name\": \"a.png\", \"subgroup\": \"cat\", \"group\": \"animal\", \"mixed\": \"x\"}",
                "{\"file_name\": \"b.png\", \"subgroup\": \"cat\", \"group\": \"animal\", \"mixed\": \"y\"}",
                "{\"file_name\": \"c.png\", \"subgroup\": \"dog\", \"group\": \"animal\", \"mixed\": \"x\"}",
                "{\"file_name\": \"d.png\", \"subgroup\": \"rose\", \"group\": \"plant\", \"mixed\": \"y\"}"));
            foreach (var name in new[] { "a.png", "b.png", "c.png", "d.png" }) File.WriteAllBytes(Path.Combine(dir, name), []);
            var metadata = ImageFolderMetadata.Read(Path.Combine(dir, ImageFolderMetadata.FileName));
            string[] classes = ["cat", "dog", "rose"];

            // When the requested labels are groups, subgroups, or values only "mixed" has
            var byGroup = RequestedClassMapping.Find(classes, "subgroup", ["animal", "plant"], metadata);
            var bySubgroup = RequestedClassMapping.Find(classes, "subgroup", ["dog"], metadata);
            var byMixed = RequestedClassMapping.Find(classes, "subgroup", ["x", "y"], metadata);

            // Then groups map through "group", subgroups directly, and "mixed" not at all
            Assert.NotNull(byGroup);
            Assert.Equal("group", byGroup.Column);
            Assert.Equal(["animal", "animal", "plant"], byGroup.Map);
            Assert.Equal(2.0 / 3, byGroup.Accuracy([0, 1, 2], ["animal", "plant", "plant"]), 9);
            Assert.Equal("subgroup", bySubgroup!.Column);
            Assert.Null(byMixed);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
