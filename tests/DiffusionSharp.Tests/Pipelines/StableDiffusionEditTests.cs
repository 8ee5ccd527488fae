using DiffusionSharp.Pipelines;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary><see cref="StableDiffusionPipeline.Edit"/>: image-to-image and inpainting guided by a prompt, on the golden tiny pipeline.</summary>
public sealed class StableDiffusionEditTests
{
    private const string Prompt = "a photo of an astronaut riding a horse on mars", NegativePrompt = "blurry, low quality";

    private static Tensor Picture(int side = 32) =>
        (arange(3 * side * side, dtype: ScalarType.Float32).reshape(1, 3, side, side) / (3 * side * side) * 2 - 1).sin();

    [Fact]
    public void Should_equal_text_to_image_from_the_same_seed_at_strength_1()
    {
        // Given the golden tiny pipeline and a picture
        using var sd = StableDiffusionPipeline.Load(StableDiffusionPipelineGoldenTests.Folder);
        using var image = Picture();

        // When the picture is edited at strength 1 (pure noise start) and an image is generated with the same prompt and seed
        using var edited = sd.Edit(Prompt, NegativePrompt, 7.5, image, new EditOptions { Strength = 1.0, Steps = 4 }, seed: 600);
        using var generated = sd.Generate(Prompt, NegativePrompt, 7.5, 4, seed: 600);

        // Then the two are the same image: the edit runs the same noise, guidance and decode as text to image
        Assert.Equal(generated.Image.shape, edited.Image.shape);
        Assert.Equal(generated.Image.data<float>().ToArray(), edited.Image.data<float>().ToArray());
    }

    [Fact]
    public void Should_follow_the_prompt_and_keep_the_input_at_low_strength()
    {
        // Given the golden tiny pipeline and a picture
        using var sd = StableDiffusionPipeline.Load(StableDiffusionPipelineGoldenTests.Folder);
        using var image = Picture();
        Tensor Edit(string prompt, double strength)
        {
            using var r = sd.Edit(prompt, NegativePrompt, 7.5, image, new EditOptions { Strength = strength, Steps = 4 }, seed: 3);
            return r.Image.clone();
        }

        // When it is edited with two prompts at strength 0.5 and with one at 0.25 and at 1
        using var astronaut = Edit(Prompt, 0.5);
        using var apple = Edit("a red apple on a table", 0.5);
        using var light = Edit(Prompt, 0.25);
        using var full = Edit(Prompt, 1.0);

        // Then the prompt changes the result, and a lower strength stays closer to the input as the VAE reconstructs it
        Assert.False(astronaut.allclose(apple), "the prompt did not change the edit");
        using var view = DiffusionPipeline.FromModel(sd.Unet, sd.Scheduler, sd.Vae);
        using var latents = view.Encode(image);
        using var reconstruction = view.Decode(latents);
        double Distance(Tensor x) => (x - reconstruction).abs().mean().item<float>();
        Assert.True(Distance(light) < Distance(full), $"strength 0.25: {Distance(light)}, strength 1: {Distance(full)}");
    }

    [Fact]
    public void Should_refuse_an_image_the_networks_do_not_take_naming_the_size()
    {
        using var sd = StableDiffusionPipeline.Load(StableDiffusionPipelineGoldenTests.Folder);
        using var image = Picture(36);
        var e = Assert.Throws<InvalidInputException>(() => sd.Edit(Prompt, null, 1.0, image, new EditOptions { Steps = 4 }, seed: 0));
        Assert.Contains("36x36", e.Message);
        Assert.Equal(StableDiffusionPipeline.SizeProperty, e.Property);
    }
}
