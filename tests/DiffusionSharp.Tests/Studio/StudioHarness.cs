using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using DiffusionSharp.Models;
using DiffusionSharp.Studio;
using DiffusionSharp.Tests.Pipelines;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Studio;

/// <summary>Studio tests run one at a time: they start servers, time streams and count the process's tensors.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StudioCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "Studio";
}

/// <summary>
/// A studio started in this process over temporary folders: <c>models/</c> with tiny U-Nets (bare model folders of
/// fresh weights: <c>tiny-cond</c> 8x8 with 2 classes, <c>tiny28</c> 28x28 unconditional) and an empty <c>runs/</c>.
/// </summary>
internal sealed class StudioHarness : IAsyncDisposable
{
    public const string TinyConditional = "tiny-cond";
    public const string Tiny28 = "tiny28";
    public const string TinyLatent = "tiny-latent";

    /// <summary>The id <see cref="AddTextToImageModel"/> gives.</summary>
    public const string TinyTextToImage = "sd";

    private StudioHarness(string root, StudioServer server)
    {
        Root = root;
        Server = server;
        Http = new HttpClient { BaseAddress = new Uri(server.Url.GetLeftPart(UriPartial.Authority)), Timeout = TimeSpan.FromMinutes(3) };
    }

    public string Root { get; }
    public string ModelsDir => Path.Combine(Root, "models");
    public string RunsDir => Path.Combine(Root, "runs");
    public StudioServer Server { get; }
    public HttpClient Http { get; }

    public static async Task<StudioHarness> StartAsync(Func<StudioOptions, StudioOptions>? configure = null)
    {
        string root = TestPaths.NewTempDir();
        Directory.CreateDirectory(Path.Combine(root, "runs"));
        random.manual_seed(1);
        using (var cond = new UNet2DModel(TinyModels.Config(numClassEmbeds: 3))) cond.SavePretrained(Path.Combine(root, "models", TinyConditional));
        using (var big = new UNet2DModel(TinyData.TinyUNet())) big.SavePretrained(Path.Combine(root, "models", Tiny28));
        var options = new StudioOptions { ModelsRoot = Path.Combine(root, "models"), RunsRoot = Path.Combine(root, "runs"), Port = 0 };
        try
        {
            return new StudioHarness(root, await StudioServer.StartAsync(configure?.Invoke(options) ?? options));
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// Adds <paramref name="id"/>, a latent pipeline folder of fresh weights as <c>diffuse train --vae</c> writes one:
    /// <c>vae/</c> a tiny AutoencoderKL (64x64 RGB to 4x16x16 latents), <c>unet/</c> a U-Net over those latents with
    /// 2 classes, <c>scheduler/</c> DDPM and a <c>model_index.json</c> naming the vae.
    /// </summary>
    /// <returns>The folder.</returns>
    public string AddLatentModel(string id = TinyLatent)
    {
        string folder = Path.Combine(ModelsDir, id);
        Training.LatentTrainingTests.SaveVae(Path.Combine(folder, "vae"));
        random.manual_seed(2);
        using (var unet = new UNet2DModel(Training.LatentTrainingTests.LatentUNet(numClassEmbeds: 3))) unet.SavePretrained(Path.Combine(folder, "unet"));
        Directory.CreateDirectory(Path.Combine(folder, "scheduler"));
        File.WriteAllText(Path.Combine(folder, "scheduler", "scheduler_config.json"),
            DiffusionSharp.Samplers.SchedulerFactory.FromSchedule(new DiffusionSharp.Schedules.NoiseScheduleConfig()).ToConfigJson().ToJsonString());
        File.WriteAllText(Path.Combine(folder, "model_index.json"),
            """{"_class_name": "DiffusionSharpLatentPipeline", "scheduler": ["diffusers", "DDPMScheduler"], "unet": ["diffusers", "UNet2DModel"], "vae": ["diffusers", "AutoencoderKL"]}""");
        return folder;
    }

    /// <summary>Adds <see cref="TinyTextToImage"/>: a copy of the golden tiny Stable Diffusion pipeline (32x32 images, CLIP tokenizer, DDIM).</summary>
    /// <returns>The folder.</returns>
    public string AddTextToImageModel() => Pipelines.StableDiffusionPipelineInputTests.CopyGolden(ModelsDir);

    /// <summary>POSTs a generate request and reads the whole event stream.</summary>
    public async Task<(int Status, List<(string Name, JsonElement Data)> Events, string Body)> GenerateAsync(object request, CancellationToken token = default)
    {
        using var response = await Http.PostAsync("/api/generate", Json(request), token);
        string body = await response.Content.ReadAsStringAsync(token);
        return ((int)response.StatusCode, response.IsSuccessStatusCode ? ParseEvents(body) : [], body);
    }

    public static StringContent Json(object request) => new(JsonSerializer.Serialize(request), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    /// <summary>The events of a server-sent event stream.</summary>
    public static List<(string Name, JsonElement Data)> ParseEvents(string body) =>
        body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n'))
            .Select(lines => (lines.First(l => l.StartsWith("event: ", StringComparison.Ordinal))[7..],
                JsonDocument.Parse(lines.First(l => l.StartsWith("data: ", StringComparison.Ordinal))[6..]).RootElement.Clone()))
            .ToList();

    /// <summary>Asserts a JSON error answer: the status, one line naming <paramref name="mention"/>, no stack trace.</summary>
    public static async Task<JsonElement> AssertErrorAsync(HttpResponseMessage response, int status, string mention)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.ToString());
        var error = JsonDocument.Parse(body).RootElement.Clone();
        string message = error.GetProperty("error").GetString()!;
        Assert.Contains(mention, message);
        Assert.DoesNotContain('\n', message);
        Assert.DoesNotContain(" at DiffusionSharp", body);
        return error;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }
}
