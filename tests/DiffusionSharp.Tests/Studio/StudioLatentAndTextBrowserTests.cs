using System.Globalization;
using DiffusionSharp.Tests.Support;
using Microsoft.Playwright;

namespace DiffusionSharp.Tests.Studio;

/// <summary>
/// The Generate page in a real browser (Debian's Chromium, headless) with a latent model and with a Stable Diffusion
/// pipeline and a prompt: each downloaded PNG is the file of the <c>diffuse sample</c> command the page shows, byte for
/// byte, and a second run leaves the studio's live tensors as they were.
/// </summary>
[Collection(StudioCollection.Name)]
public sealed class StudioLatentAndTextBrowserTests(BrowserFixture browser) : IAsyncLifetime
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
    public async Task Should_show_a_latent_model_s_steps_decoded_and_end_with_the_png_of_the_same_diffuse_sample_command()
    {
        // Given the Generate page with a tiny class-conditional latent model (tiny VAE + tiny U-Net), DDIM 3 steps,
        // class 1, guidance 2, seed 5, 2 images
        await using var studio = await StudioHarness.StartAsync();
        studio.AddLatentModel();
        await OpenGenerateAsync(studio);
        await _page.SelectOptionAsync("#model", StudioHarness.TinyLatent);
        await _page.SelectOptionAsync("#sampler", "ddim");
        await _page.SelectOptionAsync("#class", "1");
        await _page.FillAsync("#steps", "3");
        await _page.FillAsync("#guidance", "2");
        await _page.FillAsync("#seed", "5");
        await _page.FillAsync("#count", "2");

        // When Generate is pressed twice (the first run loads the U-Net and the VAE) and the runs end
        await GenerateAsync();
        long live = await studio.Server.LiveTensorsAsync();
        await GenerateAsync();

        // Then the three steps arrived, x_t and x_0 as decoded 64x64 colour images (not 16x16 latents), captioned so,
        // the prompt fields stay hidden, and the second run left no tensor behind
        Assert.Equal(live, await studio.Server.LiveTensorsAsync());
        Assert.Equal(Enumerable.Range(0, 3), await _page.EvalOnSelectorAllAsync<int[]>("#strip img", "images => images.map(i => Number(i.dataset.index))"));
        Assert.True(await _page.EvaluateAsync<int>("() => document.querySelector('#xt').naturalHeight") >= 64);
        Assert.True(await _page.EvaluateAsync<int>("() => document.querySelector('#x0').naturalWidth") >= 2 * 64);
        Assert.True(await _page.IsVisibleAsync("figure:has(#xt) .latent-only"));
        Assert.False(await _page.IsVisibleAsync("#prompt"));
        Assert.Contains("latent 4x16x16 → 3x64x64 through AutoencoderKL", await _page.TextContentAsync($"#model option[value='{StudioHarness.TinyLatent}']"));

        // And the downloaded PNG is the one the shown command writes
        string command = (await _page.TextContentAsync("#command"))!;
        Assert.Equal($"diffuse sample --model {Path.Combine(studio.ModelsDir, StudioHarness.TinyLatent)} --sampler ddim --steps 3 --class 1 --guidance 2 --seed 5 --count 2 --batch 64 --out samples.png", command);
        await AssertDownloadIsTheCommandsPngAsync(studio, command);
        Assert.Empty(browser.ConsoleErrors);
    }

    [Fact]
    public async Task Should_take_a_prompt_for_a_stable_diffusion_pipeline_and_end_with_the_png_of_the_same_diffuse_sample_command()
    {
        // Given the Generate page with the tiny Stable Diffusion pipeline, a prompt with quotes and a comma, a negative
        // prompt, DDIM 2 steps, guidance 7.5 (the page's default for text models), seed 600, 2 images
        await using var studio = await StudioHarness.StartAsync();
        studio.AddTextToImageModel();
        await OpenGenerateAsync(studio);
        await _page.SelectOptionAsync("#model", StudioHarness.TinyConditional);
        Assert.False(await _page.IsVisibleAsync("#prompt"));
        await _page.SelectOptionAsync("#model", StudioHarness.TinyTextToImage);
        Assert.True(await _page.IsVisibleAsync("#prompt"));
        Assert.True(await _page.IsDisabledAsync("#class"));
        Assert.Equal("7.5", await _page.InputValueAsync("#guidance"));
        await _page.FillAsync("#prompt", "an astronaut's \"red\" horse, on mars");
        await _page.FillAsync("#negative-prompt", "blurry");
        await _page.SelectOptionAsync("#sampler", "ddim");
        await _page.FillAsync("#steps", "2");
        await _page.FillAsync("#seed", "600");
        await _page.FillAsync("#count", "2");

        // When Generate is pressed twice and the runs end
        await GenerateAsync();
        long live = await studio.Server.LiveTensorsAsync();
        await GenerateAsync();

        // Then both images' steps arrived (one batch each), the second run left no tensor behind, and the command
        // carries the prompts quoted for a POSIX shell
        Assert.Equal(live, await studio.Server.LiveTensorsAsync());
        Assert.Equal(["0", "0", "1", "1"], await _page.EvalOnSelectorAllAsync<string[]>("#strip img", "images => images.map(i => i.dataset.batch)"));
        string command = (await _page.TextContentAsync("#command"))!;
        Assert.Equal($"diffuse sample --model {Path.Combine(studio.ModelsDir, StudioHarness.TinyTextToImage)} --prompt 'an astronaut'\\''s \"red\" horse, on mars' --negative-prompt blurry --sampler ddim --steps 2 --guidance 7.5 --seed 600 --count 2 --out samples.png", command);
        Assert.Equal("an astronaut's \"red\" horse, on mars", ShellWords.Split(command)[5]);

        // And the downloaded grid is the one the shown command writes
        await AssertDownloadIsTheCommandsPngAsync(studio, command);

        // And an over-long prompt is refused on the page with the server's one-line message
        await _page.FillAsync("#prompt", string.Join(' ', Enumerable.Repeat("astronaut horse", 50)));
        await _page.ClickAsync("#generate");
        await _page.WaitForFunctionAsync("() => document.querySelector('#state').textContent === 'failed'");
        Assert.StartsWith("prompt has 100 tokens", await _page.TextContentAsync("#error"));
        Assert.DoesNotContain(browser.ConsoleErrors, e => !e.Contains("400", StringComparison.Ordinal));
    }

    private async Task OpenGenerateAsync(StudioHarness studio)
    {
        await _page.GotoAsync(new Uri(studio.Server.Url, "/generate").ToString());
        await _page.WaitForFunctionAsync("() => document.body.dataset.ready === '1'");
    }

    private async Task GenerateAsync()
    {
        await _page.ClickAsync("#generate");
        await _page.WaitForFunctionAsync("() => ['done', 'failed'].includes(document.querySelector('#state').textContent)");
        string? state = await _page.TextContentAsync("#state");
        Assert.True(state == "done", $"{state}: {await _page.TextContentAsync("#error")}");
    }

    /// <summary>Downloads the page's PNG and runs the shown command (with this process's thread count); the two files are equal.</summary>
    private async Task AssertDownloadIsTheCommandsPngAsync(StudioHarness studio, string command)
    {
        var download = await _page.RunAndWaitForDownloadAsync(() => _page.ClickAsync("#download"));
        string downloaded = Path.Combine(studio.Root, "downloaded.png"), expected = Path.Combine(studio.Root, "cli.png");
        await download.SaveAsAsync(downloaded);
        var args = ShellWords.Split(command).Skip(1).Select(a => a == "samples.png" ? expected : a)
            .Concat(["--threads", DiffusionSharp.Runtime.TorchRuntime.Threads.ToString(CultureInfo.InvariantCulture)]).ToArray();
        var cli = CliRunner.Run(args);
        Assert.True(cli.ExitCode == 0, cli.StdErr);
        Assert.Equal(File.ReadAllBytes(expected), File.ReadAllBytes(downloaded));
    }
}
