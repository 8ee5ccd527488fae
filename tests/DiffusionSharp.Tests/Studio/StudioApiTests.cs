using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using DiffusionSharp.Imaging;
using DiffusionSharp.Noising;
using DiffusionSharp.Schedules;
using DiffusionSharp.Studio;
using DiffusionSharp.Studio.Forward;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Studio;

[Collection(StudioCollection.Name)]
public sealed class StudioApiTests
{
    [Fact]
    public async Task Should_answer_every_refused_request_with_a_one_line_json_error_naming_the_field()
    {
        // Given a studio
        await using var studio = await StudioHarness.StartAsync();
        var http = studio.Http;

        // When requests are wrong in every way a client can get one wrong
        // Then each is a JSON error with the right status that names what is wrong
        await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/nope"), 404, "not found: /api/nope");
        await StudioHarness.AssertErrorAsync(await http.PostAsync("/api/models", null), 405, "method not allowed");
        Assert.Equal("t", (await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/forward?image=mnist:0&t=abc"), 400, "t: 'abc' is not a whole number")).GetProperty("field").GetString());
        await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/forward?image=mnist:0&t=1000"), 400, "t must lie in [0, 999]");
        Assert.Equal("beta_end", (await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/schedule?beta_end=0.00001"), 400, "beta_end")).GetProperty("field").GetString());
        await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/schedule?num_train_timesteps=20000"), 400, "num_train_timesteps must lie in [1, 10000]");
        await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/forward?image=mnist:10000"), 400, "image: 'mnist:10000' must be mnist:N");
        await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/forward?image=upload:0123"), 404, "no upload");

        var cases = new (object Request, int Status, string Mention, string? Field)[]
        {
            (new { model = StudioHarness.TinyConditional, steps = 0 }, 400, "steps must lie in [1, 1000]", "steps"),
            (new { model = StudioHarness.TinyConditional, count = 65 }, 400, "count must lie in [1, 64]", "count"),
            (new { model = StudioHarness.TinyConditional, @class = "2" }, 400, "class: 2 is out of range; this model knows classes 0..1", "class"),
            (new { model = StudioHarness.TinyConditional, guidance = 3 }, 400, "guidance needs class", "guidance"),
            (new { model = StudioHarness.TinyConditional, sampler = "nope" }, 400, "sampler: unknown sampler 'nope'", "sampler"),
            (new { model = StudioHarness.TinyConditional, ema = true }, 400, "ema: model 'tiny-cond' has no EMA weights", "ema"),
            (new { model = StudioHarness.TinyConditional, spacing = "sideways" }, 400, "spacing: unknown timestep spacing", null),
            (new { model = StudioHarness.TinyConditional, steeps = 3 }, 400, "request body: unknown field 'steeps'", null),
            (new { model = "no-such-model" }, 404, "model: no model 'no-such-model'", "model"),
            (new { model = "../models" }, 400, "model: '../models' is not an id from the list", "model"),
            (new { model = "/etc" }, 400, "model: '/etc' is not an id from the list", "model"),
            (new { steps = 3 }, 400, "model is required", "model"),
        };
        foreach (var (request, status, mention, field) in cases)
        {
            var error = await StudioHarness.AssertErrorAsync(await http.PostAsync("/api/generate", StudioHarness.Json(request)), status, mention);
            Assert.Equal(field, error.TryGetProperty("field", out var f) ? f.GetString() : null);
        }
        await StudioHarness.AssertErrorAsync(await http.PostAsync("/api/generate", new StringContent("{not json", null, "application/json")), 400, "request body");
        await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/runs/..%2F..%2Fetc"), 400, "is not an id from the list");
        await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/runs/.hidden"), 400, "is not an id from the list");
        await StudioHarness.AssertErrorAsync(await http.GetAsync("/api/runs/nope"), 404, "run: no run 'nope'");
    }

    [Fact]
    public async Task Should_offer_only_diffusion_models_and_refuse_folders_that_link_outside_the_models_folder()
    {
        // Given a models folder with, besides the two tiny models, a non-diffusion model, a link to a model outside,
        // a model whose weights link outside, and a link to a model inside
        await using var studio = await StudioHarness.StartAsync();
        string outside = Path.Combine(studio.Root, "outside");
        CopyFolder(Path.Combine(studio.ModelsDir, StudioHarness.TinyConditional), Path.Combine(outside, "model"));
        Directory.CreateDirectory(Path.Combine(studio.ModelsDir, "classifier"));
        File.WriteAllText(Path.Combine(studio.ModelsDir, "classifier", "config.json"), """{"_class_name": "DigitClassifier"}""");
        Directory.CreateSymbolicLink(Path.Combine(studio.ModelsDir, "linked-out"), Path.Combine(outside, "model"));
        string leaky = Path.Combine(studio.ModelsDir, "leaky");
        Directory.CreateDirectory(leaky);
        File.Copy(Path.Combine(outside, "model", "config.json"), Path.Combine(leaky, "config.json"));
        File.CreateSymbolicLink(Path.Combine(leaky, "diffusion_pytorch_model.safetensors"), Path.Combine(outside, "model", "diffusion_pytorch_model.safetensors"));
        Directory.CreateSymbolicLink(Path.Combine(studio.ModelsDir, "alias"), StudioHarness.TinyConditional);

        // When the models are listed and each is asked for
        using var list = JsonDocument.Parse(await studio.Http.GetStringAsync("/api/models"));
        var ids = list.RootElement.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
        var request = new { model = "", steps = 2, count = 1 };

        // Then the link out and the classifier are not offered, and choosing them is refused; the link inside works
        Assert.Equal(["alias", "leaky", StudioHarness.TinyConditional, StudioHarness.Tiny28], ids);
        await StudioHarness.AssertErrorAsync(await studio.Http.PostAsync("/api/generate", StudioHarness.Json(request with { model = "linked-out" })), 403, "links outside the models folder");
        await StudioHarness.AssertErrorAsync(await studio.Http.PostAsync("/api/generate", StudioHarness.Json(request with { model = "leaky" })), 403, "holds a link outside the models folder (diffusion_pytorch_model.safetensors)");
        await StudioHarness.AssertErrorAsync(await studio.Http.PostAsync("/api/generate", StudioHarness.Json(request with { model = "classifier" })), 404, "is not a model folder");
        var (status, events, body) = await studio.GenerateAsync(request with { model = "alias" });
        Assert.True(status == 200, body);
        Assert.Equal("done", events[^1].Name);
    }

    [Fact]
    public async Task Should_require_the_token_on_every_request_when_bound_off_the_loopback()
    {
        // Given options for 0.0.0.0 without a token: refused; then a studio bound to 0.0.0.0 with one
        var e = Assert.Throws<InvalidInputException>(() => new StudioOptions { ModelsRoot = ".", RunsRoot = ".", Host = "0.0.0.0" }.Validate());
        Assert.Equal(["StudioOptions.Token", "StudioOptions.Host"], e.Properties);
        const string token = "s3cret-token-for-tests";
        await using var studio = await StudioHarness.StartAsync(o => o with { Host = "0.0.0.0", Token = token });

        // When requests come without it, with a wrong one, as a bearer header, and as the printed URL's query
        // Then only those with the token are answered; the query sets a cookie that later requests carry
        Assert.Contains("?token=" + token, studio.Server.Url.ToString());
        await StudioHarness.AssertErrorAsync(await studio.Http.GetAsync("/"), 401, "token: missing or wrong");
        await StudioHarness.AssertErrorAsync(await studio.Http.GetAsync("/api/models?token=wrong-token-xx"), 401, "token: missing or wrong");
        using (var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/models"))
        {
            bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            Assert.Equal(HttpStatusCode.OK, (await studio.Http.SendAsync(bearer)).StatusCode);
        }
        using var withCookies = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = studio.Http.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await withCookies.GetAsync("/?token=" + token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await withCookies.GetAsync("/api/runs")).StatusCode);
    }

    [Fact]
    public async Task Should_refuse_a_foreign_host_name_on_the_loopback_and_writes_from_another_origin()
    {
        // Given a studio on the loopback without a token
        await using var studio = await StudioHarness.StartAsync();

        // When a request names another host (a DNS-rebinding page) or a POST comes from another site's page
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/api/models");
        rebound.Headers.Host = "attacker.example";
        using var crossSite = new HttpRequestMessage(HttpMethod.Post, "/api/generate") { Content = StudioHarness.Json(new { model = StudioHarness.TinyConditional, steps = 1, count = 1 }) };
        crossSite.Headers.Add("Origin", "http://attacker.example");

        // Then both are refused, and the studio's own page headers forbid framing and foreign scripts
        await StudioHarness.AssertErrorAsync(await studio.Http.SendAsync(rebound), 400, "host: 'attacker.example' is not this studio's address");
        await StudioHarness.AssertErrorAsync(await studio.Http.SendAsync(crossSite), 403, "origin: requests from http://attacker.example are refused");
        var page = await studio.Http.GetAsync("/generate");
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("script-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task Should_decode_uploads_with_the_hardened_reader_and_refuse_large_or_broken_ones()
    {
        // Given a studio that takes uploads of at most 64 KiB and 100 x 100 pixels, shrinking images to 32 pixels a side
        await using var studio = await StudioHarness.StartAsync(o => o with { MaxUploadBytes = 64 * 1024, MaxUploadPixels = 100 * 100, MaxImageSide = 32 });
        byte[] Png(int side) => ImageFile.ToPng(new PixelImage(3, side, side, Enumerable.Range(0, 3 * side * side).Select(i => (byte)(i * 7)).ToArray()));

        // When an image, a too-large file, a too-large image, a non-image and an empty body are uploaded
        var ok = await studio.Http.PostAsync("/api/uploads", new ByteArrayContent(Png(64)));
        string id = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        // Then the image is kept (and shrunk) under an id the forward process takes; the others are refused in JSON
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.StartsWith("upload:", id);
        using var xt = SkiaSharp.SKBitmap.Decode(await studio.Http.GetByteArrayAsync($"/api/forward?image={id}&t=10"));
        Assert.Equal((32, 32), (xt.Width, xt.Height));
        await StudioHarness.AssertErrorAsync(await studio.Http.PostAsync("/api/uploads", new ByteArrayContent(new byte[65 * 1024])), 413, "larger than 64 KiB");
        await StudioHarness.AssertErrorAsync(await studio.Http.PostAsync("/api/uploads", new ByteArrayContent(Png(101))), 400, "unsupported image size 101x101");
        await StudioHarness.AssertErrorAsync(await studio.Http.PostAsync("/api/uploads", new ByteArrayContent("GIF89a broken"u8.ToArray())), 400, "image: expected a PNG or JPEG image");
        await StudioHarness.AssertErrorAsync(await studio.Http.PostAsync("/api/uploads", new ByteArrayContent([])), 400, "the upload is empty");
    }

    [Fact]
    public async Task Should_noise_an_image_as_the_library_forward_process_does()
    {
        // Given a studio and the cosine schedule with T = 500
        await using var studio = await StudioHarness.StartAsync();
        var config = new NoiseScheduleConfig(500, Schedule: BetaSchedule.SquaredCosCapV2);

        // When x_t of MNIST digit 3 at t = 123 with seed 7 is asked for, and the schedule's table
        byte[] png = await studio.Http.GetByteArrayAsync("/api/forward?image=mnist:3&t=123&seed=7&beta_schedule=squaredcos_cap_v2&num_train_timesteps=500");
        using var table = JsonDocument.Parse(await studio.Http.GetStringAsync("/api/schedule?beta_schedule=squaredcos_cap_v2&num_train_timesteps=500"));

        // Then the picture is ForwardProcess.AddNoise of the digit with randn from that seed, and the table is the schedule's
        var digits = DiffusionSharp.Data.IdxDataset.Mnist();
        var x0 = new float[28 * 28];
        digits.FillBatch([3], x0, new long[1]);
        using var scope = NewDisposeScope();
        using var forward = new ForwardProcess(NoiseSchedule.Create(config));
        using var generator = new Generator(7);
        var clean = tensor(x0, [1, 28, 28]);
        var expected = forward.AddNoise(clean.unsqueeze(0), randn(clean.shape, generator: generator).unsqueeze(0), tensor(new[] { 123L })).clamp(-1, 1);
        Assert.Equal(PixelImage.FromTensor(expected).Pixels, ImageFile.DecodePixels(png, "x_t", grayscale: true).Pixels);
        Assert.Equal(NoiseSchedule.Create(config).AlphasCumprod.ToArray(),
            table.RootElement.GetProperty("alphasCumprod").EnumerateArray().Select(v => v.GetSingle()).ToArray());
        Assert.Equal(png, ForwardEndpoints.NoisedPng(new ImageSources.Source(x0, [1, 28, 28]), config, 123, 7));
    }

    [Fact]
    public async Task Should_answer_429_when_the_generation_queue_is_full_and_stop_a_generation_whose_client_left()
    {
        // Given a studio that admits one generation and no waiting one, running a long generation
        await using var studio = await StudioHarness.StartAsync(o => o with { MaxQueuedGenerations = 0 });
        using var cancel = new CancellationTokenSource();
        var slow = new HttpRequestMessage(HttpMethod.Post, "/api/generate") { Content = StudioHarness.Json(new { model = StudioHarness.Tiny28, sampler = "ddpm", steps = 1000, count = 8 }) };
        using var running = await studio.Http.SendAsync(slow, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        var reader = new StreamReader(await running.Content.ReadAsStreamAsync(cancel.Token));
        while (await reader.ReadLineAsync(cancel.Token) is { } line && line != "event: step") { }

        // When a second generation is asked for, and then the first client goes away
        var busy = await studio.Http.PostAsync("/api/generate", StudioHarness.Json(new { model = StudioHarness.TinyConditional, steps = 1, count = 1 }));
        await StudioHarness.AssertErrorAsync(busy, 429, "busy: one generation runs at a time and 0 may wait");
        cancel.Cancel();
        running.Dispose();

        // Then the server stops the first generation soon (at its next step) and admits new ones
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (studio.Server.GenerationsAdmitted > 0 && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        Assert.Equal(0, studio.Server.GenerationsAdmitted);
        var (status, events, body) = await studio.GenerateAsync(new { model = StudioHarness.TinyConditional, steps = 2, count = 1 });
        Assert.True(status == 200, body);
        Assert.Equal(["start", "step", "step", "done"], events.Select(e => e.Name));
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
