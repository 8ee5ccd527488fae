using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using DiffusionSharp.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Evaluation;

public sealed class DigitClassifierTests
{
    [Fact]
    public void Should_have_the_documented_state_dict_and_output_shapes()
    {
        using var model = new DigitClassifier();

        var keys = model.state_dict().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]").Order(StringComparer.Ordinal);
        Assert.Equal(
        [
            "conv1.bias [32]", "conv1.weight [32, 1, 3, 3]", "conv2.bias [64]", "conv2.weight [64, 32, 3, 3]",
            "conv3.bias [64]", "conv3.weight [64, 64, 3, 3]", "fc1.bias [128]", "fc1.weight [128, 576]",
            "fc2.bias [10]", "fc2.weight [10, 128]",
        ], keys);
        Assert.True(model.ParameterCount * 4 <= 1_000_000, $"{model.ParameterCount} parameters exceed 1 MB of float32");
        using var x = zeros(3, 1, 28, 28);
        using var features = model.Features(x);
        using var logits = model.Logits(x);
        Assert.Equal([3L, 128L], features.shape);
        Assert.Equal([3L, 10L], logits.shape);
    }

    [Fact]
    public void Should_give_identical_outputs_after_save_and_load()
    {
        // Given a seeded classifier saved to a folder
        var dir = TestPaths.NewTempDir();
        try
        {
            using var g = new Generator(3);
            using var model = new DigitClassifier(generator: g);
            model.Save(dir);

            // When it is loaded back
            using var loaded = DigitClassifier.Load(dir);

            // Then features and logits are bit-identical
            using var x = rand([5, 1, 28, 28], generator: g) * 2 - 1;
            using var expected = model.Logits(x);
            using var actual = loaded.Logits(x);
            Assert.True(expected.allclose(actual, rtol: 0, atol: 0), "logits differ after save/load");
            Assert.Equal(model.Config, loaded.Config);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_refuse_weights_that_do_not_match_the_config_naming_the_file()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using (var model = new DigitClassifier(new DigitClassifierConfig(FeatureDim: 64))) model.Save(dir);
            File.WriteAllText(Path.Combine(dir, DigitClassifier.ConfigFileName), new DigitClassifierConfig().ToJson());

            var e = Assert.Throws<InvalidInputException>(() => DigitClassifier.Load(dir));

            Assert.Contains(DigitClassifier.WeightsFileName, e.Message);
            Assert.Contains("fc1.weight is [64, 576], expected [128, 576]", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_refuse_a_config_with_an_unknown_key()
    {
        var e = Assert.Throws<InvalidInputException>(() =>
            DigitClassifierConfig.FromJson("{\"_class_name\": \"DigitClassifier\", \"dropout\": 0.5}", "x/config.json"));

        Assert.StartsWith("x/config.json:", e.Message);
        Assert.Contains("dropout", e.Message);
    }

    [Fact]
    public void Should_lower_the_loss_and_repeat_exactly_with_the_same_seed()
    {
        // Given 64 MNIST digits, trained for a few steps twice with one seed
        var mnist = IdxDataset.Mnist();
        var indices = Enumerable.Range(0, 64).ToArray();
        var first = DigitClassifierTrainer.Train(mnist, indices, epochs: 4, batchSize: 16, seed: 11, learningRate: 3e-3);
        var second = DigitClassifierTrainer.Train(mnist, indices, epochs: 4, batchSize: 16, seed: 11, learningRate: 3e-3);
        using var a = first.Model;
        using var b = second.Model;

        // Then the loss falls, and both runs end with the same weights
        Assert.Equal(16, first.Steps);
        Assert.True(first.EpochLosses[^1] < first.EpochLosses[0], $"loss did not fall: {string.Join(", ", first.EpochLosses)}");
        Assert.Equal(first.EpochLosses, second.EpochLosses);
        var wa = a.state_dict();
        var wb = b.state_dict();
        Assert.All(wa, kv => Assert.True(kv.Value.allclose(wb[kv.Key], rtol: 0, atol: 0), $"{kv.Key} differs between runs"));
    }
}
