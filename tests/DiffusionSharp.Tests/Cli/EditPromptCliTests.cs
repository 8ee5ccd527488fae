using DiffusionSharp.Imaging;
using DiffusionSharp.Tests.Data;
using DiffusionSharp.Tests.Pipelines;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse edit --prompt</c> with a Stable Diffusion pipeline folder (the golden tiny one), and its bad inputs.</summary>
[Collection(CliCollection.Name)]
public sealed class EditPromptCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Folder => StableDiffusionPipelineGoldenTests.Folder;

    private string Picture()
    {
        var path = Path.Combine(_dir, "in.png");
        ImageFolderLabelColumnTests.WriteRgba(path, 48, 48, (x, y) => (x * 5, y * 5, 128, 255));
        return path;
    }

    private (int Code, string Out, string Err) Edit(string output, params string[] more) => InProcessCli.Run(
        ["edit", "--model", Folder, "--image", Picture(), "--negative-prompt", "blurry", "--guidance", "7.5", "--sampler", "ddim",
         "--steps", "4", "--strength", "0.5", "--seed", "1", "--threads", "1", "--out", Path.Combine(_dir, output), .. more]);

    [Fact]
    public void Should_edit_and_inpaint_an_image_guided_by_the_prompt()
    {
        // Given a 48x48 picture and the tiny Stable Diffusion pipeline (32x32 images)
        // When it is edited with a prompt, again with the same one, and with another
        var a = Edit("a.png", "--prompt", "an astronaut riding a horse");
        var again = Edit("again.png", "--prompt", "an astronaut riding a horse");
        var b = Edit("b.png", "--prompt", "a red apple on a table");
        Assert.True(a.Code == 0, a.Out + a.Err);
        Assert.True(again.Code == 0 && b.Code == 0, again.Err + b.Err);

        // Then each is a 32x32 colour image (the picture resized and cropped to the pipeline's size); the same prompt and
        // seed give the same file, another prompt another picture
        var pixels = ImageFile.LoadPixels(Path.Combine(_dir, "a.png"));
        Assert.Equal((3, 32, 32), (pixels.Channels, pixels.Height, pixels.Width));
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a.png")), File.ReadAllBytes(Path.Combine(_dir, "again.png")));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(_dir, "a.png")), File.ReadAllBytes(Path.Combine(_dir, "b.png")));

        // And with a mask of the picture's size it inpaints and writes the strip
        var mask = Path.Combine(_dir, "mask.png");
        ImageFolderLabelColumnTests.WriteRgba(mask, 48, 48, (x, _) => x < 24 ? (255, 255, 255, 255) : (0, 0, 0, 255));
        var inpainted = Edit("inpainted.png", "--prompt", "an astronaut", "--mask", mask, "--strip", Path.Combine(_dir, "strip.png"));
        Assert.True(inpainted.Code == 0, inpainted.Out + inpainted.Err);
        Assert.Equal(32, ImageFile.LoadPixels(Path.Combine(_dir, "inpainted.png")).Width);
        Assert.True(File.Exists(Path.Combine(_dir, "strip.png")));
    }

    [Fact]
    public void Should_exit_2_with_one_line_when_a_prompt_does_not_fit_the_model_or_is_missing()
    {
        var (root, pixelModel) = TinyModels.SaveFresh();
        try
        {
            var image = Picture();
            var cases = new (string[] Args, string Mention)[]
            {
                (["edit", "--model", pixelModel, "--image", image, "--prompt", "a cat"], "--prompt"),
                (["edit", "--model", pixelModel, "--image", image, "--negative-prompt", "blurry"], "--negative-prompt needs --prompt"),
                (["edit", "--model", Folder, "--image", image], "--prompt is required"),
                (["edit", "--model", Folder, "--image", image, "--prompt", "a cat", "--class", "1"], "--class cannot be used with --prompt"),
                (["edit", "--model", Folder, "--image", image, "--prompt", "a cat", "--sampler", "pndm"], "cannot edit"),
            };
            foreach (var (args, mention) in cases)
            {
                var r = InProcessCli.Run([.. args, "--steps", "2", "--threads", "1", "--out", Path.Combine(_dir, "x.png")]);
                Assert.True(r.Code == 2, $"{string.Join(' ', args)}: exit {r.Code}: {r.Err}");
                Assert.Contains(mention, r.Err);
                Assert.DoesNotContain("   at ", r.Err);
                Assert.False(File.Exists(Path.Combine(_dir, "x.png")));
            }
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
