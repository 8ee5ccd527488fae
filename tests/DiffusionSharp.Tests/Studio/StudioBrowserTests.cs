using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DiffusionSharp.Imaging;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Reliability;
using DiffusionSharp.Tests.Support;
using Microsoft.Playwright;

namespace DiffusionSharp.Tests.Studio;

/// <summary>
/// The studio's three pages in a real browser (Debian's Chromium, headless, through Playwright): the t slider, a
/// streamed generation compared with <c>diffuse sample</c>'s PNG, Cancel and a closed tab, a training run followed while
/// <c>diffuse train</c> writes it, and the refused paths.
/// </summary>
[Collection(StudioCollection.Name)]
public sealed class StudioBrowserTests(BrowserFixture browser) : IAsyncLifetime
{
    private IPage _page = null!;

    public async Task InitializeAsync()
    {
        browser.ConsoleErrors.Clear();
        _page = await browser.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (!_page.IsClosed) await _page.CloseAsync();
    }

    [Fact]
    public async Task Should_show_x_t_alpha_bar_and_snr_change_as_the_t_slider_moves()
    {
        // Given the Forward page of a studio
        await using var studio = await StudioHarness.StartAsync();
        await _page.GotoAsync(new Uri(studio.Server.Url, "/forward").ToString());
        await WaitForImageAsync("#xt-a", "250");

        // When the slider is moved to its start and to its end with the keyboard
        await _page.FocusAsync("#t");
        await _page.Keyboard.PressAsync("Home");
        await WaitForImageAsync("#xt-a", "0");
        var atStart = (Image: await ImagePixelsAsync("#xt-a"), AlphaBar: await _page.TextContentAsync("#ab-a"), Snr: await _page.TextContentAsync("#snr-a"));
        await _page.Keyboard.PressAsync("End");
        await WaitForImageAsync("#xt-a", "999");
        await WaitForImageAsync("#xt-b", "999");
        var atEnd = (Image: await ImagePixelsAsync("#xt-a"), AlphaBar: await _page.TextContentAsync("#ab-a"), Snr: await _page.TextContentAsync("#snr-a"));

        // Then x_t changes from the clean digit to noise, and the numbers are the linear schedule's at t = 0 and t = 999
        Assert.NotEqual(atStart.Image, atEnd.Image);
        var linear = NoiseSchedule.Create(new NoiseScheduleConfig());
        AssertShown(linear.AlphaBar(0), atStart.AlphaBar);
        AssertShown(linear.Snr(0), atStart.Snr);
        AssertShown(linear.AlphaBar(999), atEnd.AlphaBar);
        AssertShown(linear.Snr(999), atEnd.Snr);
        Assert.Equal("999 / 1000", await _page.TextContentAsync("#tv-b"));
        Assert.Equal(28 * 28, atStart.Image.Length);
        Assert.True(atStart.Image.Count(p => p > 200) > 50, "at t = 0 the digit's strokes are there");
        Assert.Empty(browser.ConsoleErrors);
    }

    [Fact]
    public async Task Should_stream_every_step_in_order_and_end_with_the_png_of_the_same_diffuse_sample_command()
    {
        // Given the Generate page with a tiny class-conditional model, DDIM 10 steps, class 1, guidance 2, seed 5, 4 images
        await using var studio = await StudioHarness.StartAsync();
        await OpenGenerateAsync(studio);
        await _page.SelectOptionAsync("#model", StudioHarness.TinyConditional);
        await _page.SelectOptionAsync("#sampler", "ddim");
        await _page.SelectOptionAsync("#class", "1");
        await _page.FillAsync("#steps", "10");
        await _page.FillAsync("#guidance", "2");
        await _page.FillAsync("#seed", "5");
        await _page.FillAsync("#count", "4");

        // When Generate is pressed and the run ends
        await _page.ClickAsync("#generate");
        await _page.WaitForFunctionAsync("() => document.querySelector('#state').textContent === 'done'");
        var download = await _page.RunAndWaitForDownloadAsync(() => _page.ClickAsync("#download"));
        string downloaded = Path.Combine(studio.Root, "downloaded.png");
        await download.SaveAsAsync(downloaded);
        string command = (await _page.TextContentAsync("#command"))!;

        // Then the ten steps arrived in order, each with x_t and x_0, and the PNG is the one the shown command writes
        var indexes = await _page.EvalOnSelectorAllAsync<int[]>("#strip img", "images => images.map(i => Number(i.dataset.index))");
        Assert.Equal(Enumerable.Range(0, 10), indexes);
        Assert.Equal("10 / 10", await _page.TextContentAsync("#step-counter"));
        Assert.StartsWith("data:image/png;base64,", await _page.GetAttributeAsync("#x0", "src"));
        Assert.Equal($"diffuse sample --model {Path.Combine(studio.ModelsDir, StudioHarness.TinyConditional)} --sampler ddim --steps 10 --class 1 --guidance 2 --seed 5 --count 4 --batch 64 --out samples.png", command);
        string expected = Path.Combine(studio.Root, "cli.png");
        var args = command.Split(' ').Skip(1).Select(a => a == "samples.png" ? expected : a)
            .Concat(["--threads", DiffusionSharp.Runtime.TorchRuntime.Threads.ToString(CultureInfo.InvariantCulture)]).ToArray();
        var cli = CliRunner.Run(args);
        Assert.True(cli.ExitCode == 0, cli.StdErr);
        Assert.Equal(File.ReadAllBytes(expected), File.ReadAllBytes(downloaded));
        Assert.Empty(browser.ConsoleErrors);
    }

    [Fact]
    public async Task Should_stop_the_generation_within_a_step_when_cancel_is_pressed_or_the_tab_is_closed()
    {
        // Given the Generate page running DDPM's 1000 steps on 64 images of the 28x28 tiny model
        await using var studio = await StudioHarness.StartAsync();
        async Task StartLongRunAsync(IPage page)
        {
            await page.SelectOptionAsync("#model", StudioHarness.Tiny28);
            await page.SelectOptionAsync("#sampler", "ddpm");
            await page.FillAsync("#steps", "1000");
            await page.FillAsync("#count", "64");
            await page.ClickAsync("#generate");
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#strip img').length >= 3");
        }
        await OpenGenerateAsync(studio);
        await StartLongRunAsync(_page);

        // When Cancel is pressed
        await _page.ClickAsync("#cancel");
        await _page.WaitForFunctionAsync("() => document.querySelector('#state').textContent === 'cancelled'");
        var stopped = await WaitUntilIdleAsync(studio);
        int shown = await _page.Locator("#strip img").CountAsync();

        // Then the server's generation ends at once, long before its 1000 steps, and no step arrives after
        Assert.True(stopped < TimeSpan.FromSeconds(5), $"the generation ran on for {stopped} after Cancel");
        Assert.InRange(shown, 3, 999);
        await Task.Delay(300);
        Assert.Equal(shown, await _page.Locator("#strip img").CountAsync());
        Assert.False(await _page.IsDisabledAsync("#generate"));

        // And when another tab starts the same run and is closed, its generation ends too
        var tab = await browser.NewPageAsync();
        await tab.GotoAsync(new Uri(studio.Server.Url, "/generate").ToString());
        await tab.WaitForFunctionAsync("() => document.body.dataset.ready === '1'");
        await StartLongRunAsync(tab);
        await tab.CloseAsync();
        Assert.True(await WaitUntilIdleAsync(studio) < TimeSpan.FromSeconds(5), "the closed tab's generation ran on");
        Assert.Empty(browser.ConsoleErrors);
    }

    [Fact]
    public async Task Should_follow_a_training_run_while_diffuse_train_writes_it()
    {
        // Given a studio whose runs folder gets a diffuse train run of 160 steps, a checkpoint (and loss rows) every 2
        await using var studio = await StudioHarness.StartAsync();
        string config = TinyRun.WriteConfig(studio.Root);
        string run = Path.Combine(studio.RunsDir, "live");
        using var train = DiffuseProcess.Start(studio.Root,
        [
            "train", "--data", "mnist", "--model", config, "--steps", "160", "--batch", "8", "--out", run, "--checkpoint-every", "2",
            "--keep", "2", "--threads", "1", "--warmup", "5", "--sample-every", "40", "--sample-count", "4", "--sample-steps", "2",
        ]);
        var clock = Stopwatch.StartNew();
        while (!Directory.Exists(Path.Combine(run, "training_state")) && clock.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(50);

        // When the Training page follows it until it ends
        await _page.GotoAsync(new Uri(studio.Server.Url, "/training?run=live").ToString());
        var seen = new List<int>();
        while (!train.HasExited && clock.Elapsed < TimeSpan.FromMinutes(3))
        {
            seen.Add(int.Parse((await _page.TextContentAsync("#rows"))!, CultureInfo.InvariantCulture));
            await Task.Delay(250);
        }
        Assert.Equal(0, train.WaitForExit(TimeSpan.FromMinutes(1)));
        await _page.WaitForFunctionAsync("() => document.querySelector('#rows').textContent === '160'");
        await _page.WaitForFunctionAsync("() => document.querySelector('#run-status').textContent === 'finished'");
        await _page.WaitForFunctionAsync("() => document.querySelector('#sample').dataset.step === '160'");

        // Then rows appeared while the run was still writing them, in more than one update, and the finished run shows
        // every row, its step target, its speed and its last sample grid
        var whileRunning = seen.Where(n => n > 0 && n < 160).Distinct().ToList();
        Assert.True(whileRunning.Count >= 2, $"rows seen while training: {string.Join(", ", seen.Distinct())}");
        Assert.Equal("160 / 160", await _page.TextContentAsync("#run-step"));
        Assert.NotEqual("–", await _page.TextContentAsync("#run-speed"));
        Assert.NotEqual("–", await _page.TextContentAsync("#run-loss"));
        Assert.Empty(browser.ConsoleErrors);
    }

    [Fact]
    public async Task Should_play_the_clips_of_an_audio_model_as_the_wavs_of_the_same_diffuse_sample_command()
    {
        // Given the Generate page and a tiny fresh audio model (1 x 1024 samples at 8 kHz) among the models
        await using var studio = await StudioHarness.StartAsync();
        const string id = "tiny-audio";
        TorchSharp.torch.random.manual_seed(3);
        var config = new DiffusionSharp.Models.AudioUNet1DConfig
        {
            SampleSize = 1024, BlockOutChannels = [32, 32], DownFactors = [4], AttentionLevels = [false, false],
        };
        using (var model = new DiffusionSharp.Models.AudioUNet1DModel(config)) model.SavePretrained(Path.Combine(studio.ModelsDir, id));
        await OpenGenerateAsync(studio);
        await _page.SelectOptionAsync("#model", id);
        await _page.SelectOptionAsync("#sampler", "ddim");
        await _page.FillAsync("#steps", "3");
        await _page.FillAsync("#seed", "4");
        await _page.FillAsync("#count", "2");

        // When Generate is pressed twice (the first run loads the network) and the runs end
        await _page.ClickAsync("#generate");
        await _page.WaitForFunctionAsync("() => document.querySelector('#state').textContent === 'done'");
        long live = await studio.Server.LiveTensorsAsync();
        await _page.ClickAsync("#generate");
        await _page.WaitForFunctionAsync("() => document.querySelector('#state').textContent === 'done'");

        // Then the second run left no tensor behind
        Assert.Equal(live, await studio.Server.LiveTensorsAsync());
        // And the page shows one player per clip, each with its waveform and spectrogram picture
        Assert.Equal(2, await _page.Locator("#clips audio").CountAsync());
        var pictures = await _page.EvalOnSelectorAllAsync<int[]>("#clips img", "images => images.map(i => i.complete ? i.naturalWidth : -1)");
        Assert.Equal([WaveformPicture.CellWidth + 8, WaveformPicture.CellWidth + 8], pictures);
        // And each player's source is a playable WAV: the browser reads its header and finds the clip's 0.128 s
        await _page.WaitForFunctionAsync("() => [...document.querySelectorAll('#clips audio')].every(a => a.readyState >= 1)");
        var durations = await _page.EvalOnSelectorAllAsync<double[]>("#clips audio", "players => players.map(a => a.duration)");
        Assert.All(durations, d => Assert.Equal(1024 / 8000.0, d, 3));
        var headers = await _page.EvalOnSelectorAllAsync<string[]>("#clips audio",
            "async players => Promise.all(players.map(async a => { const r = await fetch(a.src); const b = new Uint8Array(await r.arrayBuffer());" +
            " return r.headers.get('content-type') + ' ' + String.fromCharCode(...b.slice(0, 4)) + String.fromCharCode(...b.slice(8, 12)); }))");
        Assert.Equal(["audio/wav RIFFWAVE", "audio/wav RIFFWAVE"], headers);
        var sources = await _page.EvalOnSelectorAllAsync<string[]>("#clips audio", "players => players.map(a => a.getAttribute('src'))");
        var served = new List<byte[]>();
        foreach (var src in sources) served.Add(await studio.Http.GetByteArrayAsync(src));
        var first = DiffusionSharp.Audio.WavFile.Parse(served[0], "served clip");
        Assert.Equal((8000, 1024, 1), (first.SampleRate, first.Length, first.Channels.Count));

        // And they are the WAVs, byte for byte, of the diffuse sample command the page shows
        string command = (await _page.TextContentAsync("#command"))!;
        Assert.EndsWith("--individual clips --out samples.png", command);
        string folder = Path.Combine(studio.Root, "cli-clips");
        var args = command.Split(' ').Skip(1).Select(a => a == "clips" ? folder : a == "samples.png" ? Path.Combine(studio.Root, "cli.png") : a)
            .Concat(["--threads", DiffusionSharp.Runtime.TorchRuntime.Threads.ToString(CultureInfo.InvariantCulture)]).ToArray();
        var cli = CliRunner.Run(args);
        Assert.True(cli.ExitCode == 0, cli.StdErr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "00000.wav")), served[0]);
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "00001.wav")), served[1]);
        // And an unknown clip is a JSON 404
        await StudioHarness.AssertErrorAsync(await studio.Http.GetAsync("/api/clips/0123/0.wav"), 404, "clip: no clip '0.wav'");
        Assert.Empty(browser.ConsoleErrors);
    }

    [Fact]
    public async Task Should_refuse_paths_and_a_missing_token_from_the_browser()
    {
        // Given a studio on the loopback and one bound to 0.0.0.0 with a token
        await using var studio = await StudioHarness.StartAsync();
        await _page.GotoAsync(studio.Server.Url.ToString());
        const string token = "browser-test-token";
        await using var wide = await StudioHarness.StartAsync(o => o with { Host = "0.0.0.0", Token = token });

        // When the page asks for a run by ../ and a model by an absolute path
        var traversal = await FetchAsync("/api/runs/..%2F..%2Fetc%2Fpasswd");
        var absolute = await FetchAsync("/api/generate", """{"model": "/etc", "steps": 1, "count": 1}""");
        // and opens the wide studio without the token, then with the printed URL
        var refused = await _page.GotoAsync(wide.Http.BaseAddress!.ToString());
        string refusedBody = await refused!.TextAsync();
        var allowed = await _page.GotoAsync(wide.Server.Url.ToString());
        var afterwards = await FetchAsync("/api/models");

        // Then each path is refused in JSON, the wide studio answers 401 without the token and works with it
        Assert.Equal(400, traversal.Status);
        Assert.Contains("is not an id from the list", traversal.Body);
        Assert.Equal(400, absolute.Status);
        Assert.Contains("model: '/etc' is not an id from the list", absolute.Body);
        Assert.Equal(401, refused.Status);
        Assert.Contains("token: missing or wrong", JsonDocument.Parse(refusedBody).RootElement.GetProperty("error").GetString());
        Assert.Equal(200, allowed!.Status);
        Assert.Equal(200, afterwards.Status);
        Assert.Contains(StudioHarness.TinyConditional, afterwards.Body);
    }

    /// <summary>The page shows <paramref name="expected"/> to its 3-4 significant digits.</summary>
    private static void AssertShown(double expected, string? shown)
    {
        double value = double.Parse(shown!, CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(value - expected) <= 5e-3 * Math.Abs(expected), $"shown {shown}, expected {expected}");
    }

    private async Task OpenGenerateAsync(StudioHarness studio)
    {
        await _page.GotoAsync(new Uri(studio.Server.Url, "/generate").ToString());
        await _page.WaitForFunctionAsync("() => document.body.dataset.ready === '1'");
    }

    private Task WaitForImageAsync(string selector, string t) =>
        _page.WaitForFunctionAsync($"() => {{ const i = document.querySelector('{selector}'); return i.dataset.t === '{t}' && i.complete && i.naturalWidth > 0; }}");

    /// <summary>The gray levels (red channel) of the image the page shows, read back through a canvas.</summary>
    private async Task<byte[]> ImagePixelsAsync(string selector) => Convert.FromBase64String(await _page.EvaluateAsync<string>(
        $"() => {{ const i = document.querySelector('{selector}'); const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight; "
        + "const g = c.getContext('2d'); g.drawImage(i, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data; "
        + "let s = ''; for (let k = 0; k < d.length; k += 4) s += String.fromCharCode(d[k]); return btoa(s); }"));

    private async Task<(int Status, string Body)> FetchAsync(string path, string? postJson = null)
    {
        var result = await _page.EvaluateAsync<JsonElement>(
            "async ([path, body]) => { const r = await fetch(path, body === null ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }); return { status: r.status, body: await r.text() }; }",
            new object?[] { path, postJson });
        return (result.GetProperty("status").GetInt32(), result.GetProperty("body").GetString()!);
    }

    private static async Task<TimeSpan> WaitUntilIdleAsync(StudioHarness studio)
    {
        var clock = Stopwatch.StartNew();
        while (studio.Server.GenerationsAdmitted > 0 && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(10);
        return clock.Elapsed;
    }
}
