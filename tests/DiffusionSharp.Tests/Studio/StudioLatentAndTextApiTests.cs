using System.Text.Json;
using DiffusionSharp.Imaging;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;

namespace DiffusionSharp.Tests.Studio;

/// <summary>
/// The Generate API with a latent model (a VAE beside the U-Net: steps and grid decoded through it) and with a Stable
/// Diffusion pipeline folder (a prompt), each compared with the library's own pipeline; and the prompt's refusals.
/// </summary>
[Collection(StudioCollection.Name)]
public sealed class StudioLatentAndTextApiTests
{
    [Fact]
    public async Task Should_list_a_latent_and_a_text_to_image_model_with_the_shape_of_the_images_they_decode()
    {
        // Given a studio with a latent model (4x16x16 latents, a factor-4 VAE) and the tiny Stable Diffusion pipeline
        await using var studio = await StudioHarness.StartAsync();
        studio.AddLatentModel();
        studio.AddTextToImageModel();

        // When the models are listed
        using var list = JsonDocument.Parse(await studio.Http.GetStringAsync("/api/models"));
        var models = list.RootElement.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        static int[] Shape(JsonElement m, string name) => m.GetProperty(name).EnumerateArray().Select(d => d.GetInt32()).ToArray();

        // Then each names its VAE and the decoded image shape beside the latent shape; only the pipeline takes a prompt
        var latent = models[StudioHarness.TinyLatent];
        Assert.Equal("AutoencoderKL", latent.GetProperty("vae").GetString());
        Assert.Equal([4, 16, 16], Shape(latent, "sampleShape"));
        Assert.Equal([3, 64, 64], Shape(latent, "outputShape"));
        Assert.Equal(2, latent.GetProperty("numClasses").GetInt32());
        Assert.False(latent.GetProperty("textToImage").GetBoolean());
        var text = models[StudioHarness.TinyTextToImage];
        Assert.True(text.GetProperty("textToImage").GetBoolean());
        Assert.Equal("UNet2DConditionModel", text.GetProperty("className").GetString());
        Assert.Equal([3, 32, 32], Shape(text, "outputShape"));
        var pixel = models[StudioHarness.TinyConditional];
        Assert.False(pixel.TryGetProperty("vae", out _), "a pixel model names no vae");
        Assert.Equal(Shape(pixel, "sampleShape"), Shape(pixel, "outputShape"));
    }

    [Fact]
    public async Task Should_stream_x_t_and_x_0_decoded_through_the_vae_and_end_with_the_latent_pipeline_grid()
    {
        // Given a studio with a tiny class-conditional latent model, and a guided DDIM request of 2 steps for 2 images
        await using var studio = await StudioHarness.StartAsync();
        string folder = studio.AddLatentModel();
        var request = new { model = StudioHarness.TinyLatent, sampler = "ddim", steps = 2, @class = "1", guidance = 2.0, seed = 3, count = 2 };

        // When it is generated twice (the first run loads the U-Net and the VAE)
        var (status, events, body) = await studio.GenerateAsync(request);
        Assert.True(status == 200, body);
        long live = await studio.Server.LiveTensorsAsync();
        var again = await studio.GenerateAsync(request);
        Assert.True(again.Status == 200, again.Body);

        // Then every step's x_t and x_0 are the library's latents decoded by the VAE, the final grid is the library's
        // grid of decoded 64x64 images, and the second run left no tensor behind
        var expectedSteps = new List<(byte[] Xt, byte[] X0)>();
        byte[] expectedGrid;
        TorchRuntime.ApplyThreads();
        using (var pipeline = DiffusionPipeline.Load(folder, samplerName: "ddim"))
        {
            var (labels, count, nrow) = SampleClasses.Resolve("1", 2, pipeline.NumClasses, 2.0);
            using var images = pipeline.Generate(count, 2, 3, labels, 2.0, 64, (_, step) => expectedSteps.Add(
                (ImageGrid.ToPng(pipeline.Decode(step.Sample), nrow, scale: 1), ImageGrid.ToPng(pipeline.Decode(step.PredOriginalSample!), nrow, scale: 1))));
            Assert.Equal([2, 3, 64, 64], images.shape);
            expectedGrid = ImageGrid.ToPng(images, nrow);
        }
        Assert.Equal(["start", "step", "step", "done"], events.Select(e => e.Name));
        var steps = events.Where(e => e.Name == "step").Select(e => e.Data).ToList();
        for (int i = 0; i < steps.Count; i++)
        {
            Assert.Equal(expectedSteps[i].Xt, steps[i].GetProperty("xt").GetBytesFromBase64());
            Assert.Equal(expectedSteps[i].X0, steps[i].GetProperty("x0").GetBytesFromBase64());
        }
        var frame = ImageFile.DecodePixels(steps[0].GetProperty("xt").GetBytesFromBase64(), "x_t");
        Assert.Equal(3, frame.Channels);
        Assert.True(frame.Height >= 64 && frame.Width >= 2 * 64, $"x_t frame {frame.Width}x{frame.Height}: not decoded 64x64 images");
        Assert.Equal(expectedGrid, events[^1].Data.GetProperty("png").GetBytesFromBase64());
        Assert.Equal(expectedGrid, again.Events[^1].Data.GetProperty("png").GetBytesFromBase64());
        Assert.Equal(live, await studio.Server.LiveTensorsAsync());
    }

    [Fact]
    public async Task Should_decode_only_the_first_images_of_a_latent_batch_for_the_step_pictures_and_every_image_for_the_grid()
    {
        // Given a studio whose latent step pictures decode at most one image, and a latent model
        await using var studio = await StudioHarness.StartAsync(o => o with { LatentPreviews = 1 });
        studio.AddLatentModel();

        // When three images are generated in one step
        var (status, events, body) = await studio.GenerateAsync(new { model = StudioHarness.TinyLatent, sampler = "ddim", steps = 1, seed = 1, count = 3 });
        Assert.True(status == 200, body);

        // Then the step's x_t and x_0 are one decoded image each, and the final grid holds all three
        PixelImage Decoded(string field, JsonElement data) => ImageFile.DecodePixels(data.GetProperty(field).GetBytesFromBase64(), field);
        using var one = TorchSharp.torch.zeros(1, 3, 64, 64);
        using var three = TorchSharp.torch.zeros(3, 3, 64, 64);
        var single = ImageFile.DecodePixels(ImageGrid.ToPng(one, scale: 1), "one");
        var step = events.Single(e => e.Name == "step").Data;
        Assert.Equal((single.Width, single.Height), (Decoded("xt", step).Width, Decoded("xt", step).Height));
        Assert.Equal((single.Width, single.Height), (Decoded("x0", step).Width, Decoded("x0", step).Height));
        var grid = ImageFile.DecodePixels(ImageGrid.ToPng(three), "three");
        var done = Decoded("png", events[^1].Data);
        Assert.Equal((grid.Width, grid.Height), (done.Width, done.Height));
    }

    [Fact]
    public async Task Should_generate_from_a_prompt_as_the_stable_diffusion_pipeline_does_and_show_the_command_with_it()
    {
        // Given a studio with the tiny Stable Diffusion pipeline and a prompt with a quote in it
        await using var studio = await StudioHarness.StartAsync();
        string folder = studio.AddTextToImageModel();
        const string prompt = "an astronaut's horse", negative = "blurry";
        var request = new { model = StudioHarness.TinyTextToImage, prompt, negativePrompt = negative, guidance = 7.5, steps = 2, seed = 600, count = 1 };

        // When one image is generated, twice
        var (status, events, body) = await studio.GenerateAsync(request);
        Assert.True(status == 200, body);
        long live = await studio.Server.LiveTensorsAsync();
        var again = await studio.GenerateAsync(request);
        Assert.True(again.Status == 200, again.Body);

        // Then the PNG is StableDiffusionPipeline.Generate's image, each step's x_t is its latents decoded by the VAE,
        // the command carries the prompts shell-quoted, and the second run left no tensor behind
        byte[] expected;
        var expectedSteps = new List<byte[]>();
        TorchRuntime.ApplyThreads();
        using (var sd = StableDiffusionPipeline.Load(folder))
        using (var decoder = DiffusionPipeline.FromModel(sd.Unet, sd.Scheduler, sd.Vae))
        using (var result = sd.Generate(prompt, negative, 7.5, 2, seed: 600, onStep: s => expectedSteps.Add(ImageGrid.ToPng(decoder.Decode(s.Sample), scale: 1))))
            expected = ImageFile.ToPng(PixelImage.FromBatch(result.Image)[0]);
        Assert.Equal(["start", "step", "step", "done"], events.Select(e => e.Name));
        Assert.Equal(expectedSteps, events.Where(e => e.Name == "step").Select(e => e.Data.GetProperty("xt").GetBytesFromBase64()));
        byte[] png = events[^1].Data.GetProperty("png").GetBytesFromBase64();
        Assert.Equal(expected, png);
        Assert.Equal((3, 32, 32), ImageFile.DecodePixels(png, "png") is var p ? (p.Channels, p.Height, p.Width) : default);
        Assert.Equal($"diffuse sample --model {folder} --prompt 'an astronaut'\\''s horse' --negative-prompt blurry --steps 2 --guidance 7.5 --seed 600 --count 1 --out samples.png",
            events[0].Data.GetProperty("command").GetString());
        Assert.Equal(expected, again.Events[^1].Data.GetProperty("png").GetBytesFromBase64());
        Assert.Equal(live, await studio.Server.LiveTensorsAsync());
    }

    [Fact]
    public async Task Should_refuse_prompts_where_they_do_not_apply_or_do_not_fit_with_a_one_line_json_error()
    {
        // Given a studio with a class-conditional pixel model, a latent model and the tiny Stable Diffusion pipeline
        await using var studio = await StudioHarness.StartAsync();
        studio.AddLatentModel();
        studio.AddTextToImageModel();
        string sd = StudioHarness.TinyTextToImage, longPrompt = string.Join(' ', Enumerable.Repeat("astronaut horse", 50));

        // When prompts go to models without a text encoder, a pipeline gets none, a class, or prompts too long
        var cases = new (object Request, string Mention, string Field)[]
        {
            (new { model = StudioHarness.TinyConditional, prompt = "a cat", steps = 1 }, "prompt: model 'tiny-cond' is a UNet2DModel without a text encoder", "prompt"),
            (new { model = StudioHarness.TinyLatent, negativePrompt = "blurry", steps = 1 }, "negativePrompt: model 'tiny-latent' is a UNet2DModel without a text encoder", "negativePrompt"),
            (new { model = sd, steps = 1 }, "prompt is required: model 'sd' is a text-to-image pipeline", "prompt"),
            (new { model = sd, prompt = "a cat", @class = "1", steps = 1 }, "class: model 'sd' is a text-to-image pipeline; it takes a prompt, not a class", "class"),
            (new { model = sd, prompt = longPrompt, steps = 1 }, "prompt has 100 tokens; the text encoder takes at most 75 (77 with the start and end tokens)", "prompt"),
            (new { model = sd, prompt = "a cat", negativePrompt = longPrompt, steps = 1 }, "negativePrompt has 100 tokens", "negativePrompt"),
            (new { model = sd, prompt = new string('a', 1001), steps = 1 }, "prompt is 1001 characters long; the studio takes at most 1000", "prompt"),
            (new { model = sd, prompt = "a cat", steps = 1001 }, "steps must lie in [1, 1000]", "steps"),
        };

        // Then each is a 400 whose one-line message names the field
        foreach (var (request, mention, field) in cases)
        {
            var error = await StudioHarness.AssertErrorAsync(await studio.Http.PostAsync("/api/generate", StudioHarness.Json(request)), 400, mention);
            Assert.Equal(field, error.GetProperty("field").GetString());
        }
    }
}
