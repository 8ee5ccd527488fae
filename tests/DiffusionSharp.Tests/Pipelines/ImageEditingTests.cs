using TorchSharp;
using DiffusionSharp.Conditioning;
using DiffusionSharp.Cli;
using DiffusionSharp.Imaging;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>The pipeline side of editing (image and mask loading, conditioning checks) and classifier-free guidance.</summary>
public sealed class ImageEditingTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Png(string name, Tensor chw)
    {
        string path = Path.Combine(_dir, name);
        ImageFile.SavePng(chw, path);
        return path;
    }

    [Fact]
    public void Should_load_the_image_at_the_models_size_and_the_mask_white_as_repaint()
    {
        // Given a 12x10 RGB image and a mask of the same size whose left 6 columns are white
        var config = TinyModels.Config(sampleSize: 8);
        string image = Png("in.png", rand([3, 10, 12]) * 2 - 1);
        using var maskPixels = full([1, 10, 12], -1f);
        maskPixels[.., .., ..6] = tensor(1f);
        string mask = Png("mask.png", maskPixels);

        // When both are loaded for a one-channel 8x8 model
        using var x = ImageEditing.LoadImage(image, config);
        using var repaint = ImageEditing.LoadMask(mask, image, config);
        using var keepWhite = ImageEditing.LoadMask(mask, image, config, keepWhite: true);

        // Then the image is [1, 1, 8, 8] in [-1, 1], and the mask [1, 1, 8, 8] of 0/1 with the white (left) part 1
        Assert.Equal([1L, 1, 8, 8], x.shape);
        Assert.True(x.min().item<float>() >= -1 && x.max().item<float>() <= 1);
        Assert.Equal([1L, 1, 8, 8], repaint.shape);
        Assert.Equal(1f, repaint[0, 0, 4, 0].item<float>());
        Assert.Equal(0f, repaint[0, 0, 4, 7].item<float>());
        Assert.True(repaint.eq(0).logical_or(repaint.eq(1)).all().item<bool>());
        Assert.Equal((1 - repaint).data<float>().ToArray(), keepWhite.data<float>().ToArray());
    }

    [Fact]
    public void Should_reject_a_mask_whose_size_differs_from_the_image()
    {
        var config = TinyModels.Config(sampleSize: 8);
        string image = Png("in.png", zeros([1, 10, 12]));
        string mask = Png("mask.png", zeros([1, 5, 5]));

        var e = Assert.Throws<InvalidInputException>(() => ImageEditing.LoadMask(mask, image, config));

        Assert.Contains("is 5x5 but the image", e.Message);
        Assert.Contains("is 12x10", e.Message);
    }

    [Fact]
    public void Should_reject_classes_and_guidance_the_model_does_not_have()
    {
        var (root, unconditionalDir) = TinyModels.SaveFresh();
        var (root2, conditionalDir) = TinyModels.SaveFresh(numClassEmbeds: 11);
        try
        {
            using var unconditional = DiffusionPipeline.Load(unconditionalDir);
            using var conditional = DiffusionPipeline.Load(conditionalDir);
            using var x0 = zeros([1, 1, 8, 8]);
            var options = new EditOptions { Strength = 0.5, Steps = 4 };

            Assert.Contains("--class: this model is unconditional",
                CliNames.ForUser(Assert.Throws<InvalidInputException>(() => unconditional.Edit(x0, options, 0, classLabels: [3]))));
            Assert.Contains("--guidance: this model is unconditional",
                CliNames.ForUser(Assert.Throws<InvalidInputException>(() => unconditional.Edit(x0, options, 0, guidance: 3))));
            Assert.Contains("--class: 10 is out of range; this model knows classes 0..9",
                CliNames.ForUser(Assert.Throws<InvalidInputException>(() => conditional.Edit(x0, options, 0, classLabels: [10]))));
            Assert.Contains("--image: the model takes [B, 1, 8, 8] images",
                CliNames.ForUser(Assert.Throws<InvalidInputException>(() => conditional.Edit(zeros([1, 3, 8, 8]), options, 0))));

            using var edited = conditional.Edit(x0, options, 0, classLabels: [3], guidance: 2);
            Assert.Equal(2, edited.ModelCalls);
            Assert.True(edited.Image.isfinite().all().item<bool>());

            // no class given: a class-conditional model edits with its null class (10), as sampling does
            using var unlabelled = conditional.Edit(x0, options, 0);
            using var nullClass = new ClassLabelCondition(tensor(new long[] { 10 }), 10);
            using var generator = new Generator(0);
            using var withNullClass = new ImageEditor(conditional.Scheduler, conditional.ModelCall(nullClass, 1.0)).Edit(x0, options, generator);
            Assert.Equal(2, unlabelled.ModelCalls);
            Assert.True(unlabelled.Image.equal(withNullClass.Image).all().item<bool>());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
            Directory.Delete(root2, recursive: true);
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(3.0)]
    public void Should_combine_conditional_and_null_class_outputs_as_classifier_free_guidance(double w)
    {
        // Given a class-conditional model whose outputs differ between a real label and the null label (index 10)
        var (root, dir) = TinyModels.SaveFresh(numClassEmbeds: 11, seed: 5);
        try
        {
            using var pipeline = DiffusionPipeline.Load(dir);
            using var _ = no_grad();
            using var g = new Generator(6);
            using var x = randn([2, 1, 8, 8], generator: g);
            using var ts = full([2], 500f);
            using var labels = tensor(new long[] { 3, 7 });
            using var cond = pipeline.Unet.forward(x, ts, labels);
            using var uncond = pipeline.Unet.forward(x, ts, full([2], 10L));
            Assert.True((cond - uncond).abs().max().item<float>() > 1e-3, "the fake model must tell labels apart");

            // When the pipeline's model call guides with scale w
            using var guided = pipeline.ModelCall(labels, w)(x, 500);

            // Then it is eps_uncond + w·(eps_cond - eps_uncond) (Ho and Salimans 2022, eq. 6); w = 1 is the conditional call itself
            using var expected = uncond + w * (cond - uncond);
            if (w == 1.0) Assert.Equal(cond.data<float>().ToArray(), guided.data<float>().ToArray());
            else Assert.True((guided - expected).abs().max().item<float>() < 1e-5, $"max diff {(guided - expected).abs().max().item<float>()}");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
