using DiffusionSharp.Tests.Support;
using Microsoft.Playwright;

namespace DiffusionSharp.Tests.Studio;

/// <summary>
/// The three pages with the shipped model (<c>models/mnist-tiny-cond</c>, whose folder is also the record of its
/// training run), as the README shows them. The pictures go to a temporary folder, or to the folder named by
/// <c>STUDIO_SCREENSHOTS</c> (<c>STUDIO_SCREENSHOTS=$PWD/docs dotnet test --filter StudioScreenshot</c> makes the README's).
/// </summary>
[Collection(StudioCollection.Name)]
public sealed class StudioScreenshotTests(BrowserFixture browser) : IAsyncLifetime
{
    private readonly string _out = Environment.GetEnvironmentVariable("STUDIO_SCREENSHOTS") is { Length: > 0 } dir ? dir : TestPaths.NewTempDir();
    private IPage _page = null!;

    public async Task InitializeAsync()
    {
        browser.ConsoleErrors.Clear();
        _page = await browser.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        await _page.CloseAsync();
        if (Environment.GetEnvironmentVariable("STUDIO_SCREENSHOTS") is not { Length: > 0 }) Directory.Delete(_out, recursive: true);
    }

    [Fact]
    public async Task Should_show_the_shipped_model_on_the_three_pages()
    {
        // Given a studio over the repository's models, which are also its runs
        string models = Path.Combine(TestPaths.RepoRoot, "models");
        await using var studio = await StudioHarness.StartAsync(o => o with { ModelsRoot = models, RunsRoot = models });
        var root = studio.Server.Url;

        // When the Forward page shows digit 7 at 30 % of T, the Generate page draws 16 sevens with DPM-Solver++ in 20
        // steps (EMA weights, guidance 3), and the Training page shows the model's 12,000-step run
        await _page.GotoAsync(new Uri(root, "/forward").ToString());
        await _page.WaitForFunctionAsync("() => document.body.dataset.ready === '1'");
        await _page.FillAsync("#digit", "7");
        await _page.Locator("#t").EvaluateAsync("t => { t.value = 300; t.dispatchEvent(new Event('input')); }");
        await _page.WaitForFunctionAsync("() => ['a', 'b'].every(k => { const i = document.querySelector('#xt-' + k); return i.dataset.t === '300' && i.dataset.image === 'mnist:7'; })");
        await ShotAsync("studio-forward.png");

        await _page.GotoAsync(new Uri(root, "/generate").ToString());
        await _page.WaitForFunctionAsync("() => document.body.dataset.ready === '1'");
        // models/ holds more than one model (emoji-latent-subgroup sorts first): pick the digits
        await _page.SelectOptionAsync("#model", "mnist-tiny-cond");
        await _page.SelectOptionAsync("#class", "7");
        await _page.ClickAsync("#generate");
        await _page.WaitForFunctionAsync("() => document.querySelector('#state').textContent === 'done'", null, new() { Timeout = 180_000 });
        await ShotAsync("studio-generate.png");
        string steps = (await _page.TextContentAsync("#step-counter"))!, command = (await _page.TextContentAsync("#command"))!;

        await _page.GotoAsync(new Uri(root, "/training?run=mnist-tiny-cond").ToString());
        await _page.WaitForFunctionAsync("() => document.querySelector('#rows').textContent === '12000' && document.querySelector('#sample').complete && document.querySelector('#sample').naturalWidth > 0");
        await ShotAsync("studio-training.png");

        // Then the defaults were the shipped model's (EMA, dpmpp-2m, 20 steps, 16 images) and the run's last row is shown; the pages raised no script error
        Assert.Equal("20 / 20", steps);
        Assert.EndsWith("mnist-tiny-cond --ema --sampler dpmpp-2m --steps 20 --class 7 --guidance 3 --seed 0 --count 16 --batch 64 --out samples.png", command);
        Assert.Equal("12000", await _page.TextContentAsync("#run-step")); // no training_state/ is shipped, so no target
        Assert.Equal("0.02111", await _page.TextContentAsync("#run-loss"));
        Assert.Empty(browser.ConsoleErrors);
    }

    private async Task ShotAsync(string name)
    {
        string path = Path.Combine(_out, name);
        await _page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        using var image = SkiaSharp.SKBitmap.Decode(path);
        Assert.True(image.Width >= 1000 && image.Height >= 600, $"{name}: {image.Width}x{image.Height}");
    }
}
