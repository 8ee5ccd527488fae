using DiffusionSharp.Cli;
using DiffusionSharp.Imaging;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary><c>diffuse edit</c> end to end on a tiny 8x8 model: outputs, and a one-line error with exit code 2 for bad input.</summary>
[Collection(DiffusionSharp.Tests.Cli.CliCollection.Name)]
public sealed class EditCommandTests : IDisposable
{
    private readonly string _root;
    private readonly string _model;
    private readonly string _conditionalRoot;
    private readonly string _conditional;
    private readonly string _image;
    private readonly string _mask;

    public EditCommandTests()
    {
        (_root, _model) = TinyModels.SaveFresh();
        (_conditionalRoot, _conditional) = TinyModels.SaveFresh(numClassEmbeds: 11);
        _image = Path.Combine(_root, "in.png");
        ImageFile.SavePng(rand([1, 10, 12]) * 2 - 1, _image);
        _mask = Path.Combine(_root, "mask.png");
        using var mask = full([1, 10, 12], -1f);
        mask[.., 2..8, 3..9] = tensor(1f);
        ImageFile.SavePng(mask, _mask);
    }

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_conditionalRoot, recursive: true);
    }

    private static (int Code, string Error) Run(params string[] args)
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try
        {
            return (DiffuseApp.Run(["edit", "--threads", "1", .. args]), error.ToString());
        }
        finally
        {
            Console.SetError(original);
        }
    }

    [Fact]
    public void Should_write_the_edited_image_and_the_strip()
    {
        string output = Path.Combine(_root, "out", "edited.png"), strip = Path.Combine(_root, "strip.png");

        var (code, error) = Run("--model", _model, "--image", _image, "--strength", "0.5", "--steps", "4", "--sampler", "ddim",
            "--out", output, "--strip", strip);

        Assert.True(code == 0, error);
        var pixels = ImageFile.LoadPixels(output);
        Assert.Equal((8, 8), (pixels.Width, pixels.Height));
        Assert.True(File.Exists(strip));
    }

    [Fact]
    public void Should_inpaint_with_a_mask_and_resampling()
    {
        string output = Path.Combine(_root, "inpainted.png");

        var (code, error) = Run("--model", _model, "--image", _image, "--mask", _mask, "--resample", "1", "--sampler", "ddpm",
            "--strength", "1", "--steps", "3", "--seed", "4", "--out", output, "--strip", Path.Combine(_root, "strip.png"));

        Assert.True(code == 0, error);
        Assert.True(File.Exists(output));
    }

    [Theory]
    [InlineData("--strength 1.5", "--strength must lie in (0, 1]")]
    [InlineData("--strength 0", "--strength must lie in (0, 1]")]
    [InlineData("--strength 0.1 --steps 5", "runs no step")]
    [InlineData("--sampler plms", "unknown sampler 'plms' (known: ddpm, ddim, dpmpp-2m, dpmpp-2m-sde, dpmpp-3m, euler, euler-ancestral, heun, lms, flow-euler, flow-heun)")]
    [InlineData("--sampler pndm", "--sampler pndm cannot edit")]
    [InlineData("--resample 2", "--resample needs --mask")]
    [InlineData("--class 3", "--class: this model is unconditional")]
    [InlineData("--guidance 2", "--guidance: this model is unconditional")]
    [InlineData("--eta 0.5 --sampler euler", "--eta: only the ddim sampler takes eta")]
    public void Should_fail_with_exit_code_2_and_one_line_for_bad_input(string extra, string message)
    {
        var (code, error) = Run(["--model", _model, "--image", _image, "--out", Path.Combine(_root, "x.png"), .. extra.Split(' ')]);

        Assert.Equal(DiffuseApp.BadInput, code);
        Assert.Contains(message, error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Should_reject_a_mask_of_another_size_and_a_class_out_of_range()
    {
        string smallMask = Path.Combine(_root, "small.png");
        ImageFile.SavePng(zeros([1, 5, 5]), smallMask);

        var mask = Run("--model", _model, "--image", _image, "--mask", smallMask, "--out", Path.Combine(_root, "x.png"));
        var label = Run("--model", _conditional, "--image", _image, "--class", "10", "--out", Path.Combine(_root, "x.png"));

        Assert.Equal(DiffuseApp.BadInput, mask.Code);
        Assert.Contains("is 5x5 but the image", mask.Error);
        Assert.Equal(DiffuseApp.BadInput, label.Code);
        Assert.Contains("--class: 10 is out of range; this model knows classes 0..9", label.Error);
    }
}
