using DiffusionSharp.Evaluation;
using DiffusionSharp.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Evaluation;

public sealed class DigitEvaluationTests(ShippedEvaluationFixture fixture) : IClassFixture<ShippedEvaluationFixture>
{
    [Fact]
    public void Should_find_the_shipped_classifier_beside_or_above_the_application()
    {
        Assert.NotNull(ShippedClassifier.FindDirectory(AppContext.BaseDirectory));
        Assert.True(File.Exists(Path.Combine(ShippedClassifier.Directory, DigitClassifier.WeightsFileName)));
    }

    [Fact]
    public void Should_classify_real_held_out_digits_accurately_with_fid_near_zero()
    {
        // When the held-out digits are scored against themselves, with their true labels as the requested ones
        var report = fixture.Evaluation.Evaluate(fixture.HeldOut, fixture.HeldOutLabels);

        // Then the classifier is accurate and confident, every class is covered and FID is 0 up to rounding
        Assert.True(report.Accuracy > 0.98, $"accuracy {report.Accuracy}");
        Assert.True(report.MeanConfidence > 0.95, $"confidence {report.MeanConfidence}");
        Assert.True(report.ClassEntropy > 0.99 * DigitEvaluationReport.MaxClassEntropy, $"entropy {report.ClassEntropy}");
        Assert.True(report.FidMnist < 1e-6, $"FID {report.FidMnist}");
        Assert.Equal(2000, report.SampleCount);
        Assert.Equal(2000, report.ClassCounts.Sum());
    }

    [Fact]
    public void Should_give_other_real_digits_a_small_fid_and_noise_a_large_one()
    {
        // Given 2,000 real training digits and 2,000 noise images
        using var scope = NewDisposeScope();
        var train = DigitClassifierTrainer.ReadImages(fixture.Mnist, MnistSplit.TrainIndices()[..2000]);
        using var g = new Generator(1);
        var noise = rand([2000, 1, 28, 28], generator: g) * 2 - 1;

        // When both are scored
        var real = fixture.Evaluation.Evaluate(train);
        var bad = fixture.Evaluation.Evaluate(noise);

        // Then real digits score far better than noise (shipped classifier: 6.2 and 1682, see models/mnist-classifier/README.md)
        Assert.True(real.FidMnist < 20, $"real FID {real.FidMnist}");
        Assert.True(bad.FidMnist > 100 * real.FidMnist, $"noise FID {bad.FidMnist} vs real {real.FidMnist}");
        Assert.True(bad.ClassEntropy >= 0, $"entropy {bad.ClassEntropy}");
    }

    [Fact]
    public void Should_refuse_fewer_than_100_samples()
    {
        using var few = fixture.HeldOut.narrow(0, 0, 99);

        var e = Assert.Throws<InvalidInputException>(() => fixture.Evaluation.Evaluate(few));

        Assert.Contains("at least 100", e.Message);
        Assert.Contains("meaningless", e.Message);
    }

    [Fact]
    public void Should_refuse_labels_of_the_wrong_count()
    {
        var e = Assert.Throws<InvalidInputException>(() => fixture.Evaluation.Evaluate(fixture.HeldOut, fixture.HeldOutLabels[..10]));

        Assert.StartsWith("labels:", e.Message);
    }

    [Fact]
    public void Should_split_a_grid_written_by_ImageGrid_back_into_the_same_digits()
    {
        var dir = Support.TestPaths.NewTempDir();
        try
        {
            foreach (var count in new[] { 100, 12, 10 })
            {
                // Given a default grid (⌈√B⌉ columns, padding 2, AutoScale 3), for B = 10 with two unused cells
                using var digits = fixture.HeldOut.narrow(0, 0, count);
                var path = Path.Combine(dir, $"grid{count}.png");
                ImageGrid.SavePng(digits, path);
                var columns = (int)Math.Ceiling(Math.Sqrt(count));

                // When it is split with only the column count given
                using var cells = DigitSamples.FromGrid(path, columns);

                // Then the cells are the digits, exactly
                Assert.Equal(digits.shape, cells.shape);
                Assert.True(digits.allclose(cells, rtol: 0, atol: 0), $"grid of {count} did not round-trip");
            }

            var e = Assert.Throws<InvalidInputException>(() => DigitSamples.FromGrid(Path.Combine(dir, "grid12.png"), 5));
            Assert.Contains("grid12.png", e.Message);
            Assert.Contains("wide", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_read_a_folder_of_digits_and_name_an_image_of_the_wrong_size()
    {
        var dir = Support.TestPaths.NewTempDir();
        try
        {
            // Given a folder of 28 x 28 PNGs
            using var digits = fixture.HeldOut.narrow(0, 0, 5);
            for (var i = 0; i < 5; i++) ImageFile.SavePng(digits[i], Path.Combine(dir, $"{i:000}.png"));
            using var read = DigitSamples.FromFolder(dir);
            Assert.True(digits.allclose(read, rtol: 0, atol: 0), "folder digits differ");

            // When a 32 x 32 image joins them
            ImageFile.SavePng(new PixelImage(1, 32, 32, new byte[32 * 32]), Path.Combine(dir, "big.png"));
            var e = Assert.Throws<InvalidInputException>(() => DigitSamples.FromFolder(dir));

            // Then the error names the file and its size
            Assert.Contains("big.png", e.Message);
            Assert.Contains("found 32x32", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_refuse_a_colour_image()
    {
        var dir = Support.TestPaths.NewTempDir();
        try
        {
            var rgb = new byte[3 * 28 * 28];
            rgb[0] = 255;
            var path = Path.Combine(dir, "red.png");
            ImageFile.SavePng(new PixelImage(3, 28, 28, rgb), path);

            var e = Assert.Throws<InvalidInputException>(() => DigitSamples.FromFolder(dir));

            Assert.Contains("red.png", e.Message);
            Assert.Contains("grayscale", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_name_an_IDX_file_of_the_wrong_image_size()
    {
        var dir = Support.TestPaths.NewTempDir();
        try
        {
            var path = Data.IdxTestFiles.Write(dir, "small.idx", Data.IdxTestFiles.Bytes(0x0803, [3, 16, 16], new byte[3 * 16 * 16]), gzip: false);

            var e = Assert.Throws<InvalidInputException>(() => DigitSamples.Load(path));

            Assert.Contains("small.idx", e.Message);
            Assert.Contains("found 16x16", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_read_labels_from_text()
    {
        var dir = Support.TestPaths.NewTempDir();
        try
        {
            var path = Path.Combine(dir, "labels.txt");
            File.WriteAllText(path, "0 1,2\n9");
            Assert.Equal([0, 1, 2, 9], DigitSamples.LoadLabels(path));
            File.WriteAllText(path, "0 12");
            Assert.Contains("label 2: expected 0-9, found 12", Assert.Throws<InvalidInputException>(() => DigitSamples.LoadLabels(path)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
