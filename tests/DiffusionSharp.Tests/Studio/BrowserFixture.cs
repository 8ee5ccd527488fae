using Microsoft.Playwright;

namespace DiffusionSharp.Tests.Studio;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>; <c>apt-get install chromium</c>, which .ci/run does) driven headless by
/// Playwright, with a fresh profile folder; never a downloaded browser. One browser for the studio tests.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly string _profile = Path.Combine(Path.GetTempPath(), "diffusionsharp-tests", "chromium-" + Guid.NewGuid().ToString("N"));
    private IPlaywright? _playwright;
    private IBrowserContext? _context;

    /// <summary>The browser, with the flags the issue asks for.</summary>
    public IBrowserContext Browser => _context ?? throw new InvalidOperationException("the browser did not start");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} is missing: the studio's browser tests need Debian's Chromium (apt-get install chromium)");
        Directory.CreateDirectory(_profile);
        _playwright = await Playwright.CreateAsync();
        _context = await _playwright.Chromium.LaunchPersistentContextAsync(_profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            ViewportSize = new ViewportSize { Width = 1360, Height = 900 },
            AcceptDownloads = true,
        });
        _context.SetDefaultTimeout(60_000);
    }

    /// <summary>A new tab.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var page = await Browser.NewPageAsync();
        page.Console += (_, message) => { if (message.Type == "error") ConsoleErrors.Add($"{page.Url}: {message.Text}"); };
        page.PageError += (_, error) => ConsoleErrors.Add($"{page.Url}: {error}");
        return page;
    }

    /// <summary>Script errors seen in any tab (a page that throws fails its test).</summary>
    public List<string> ConsoleErrors { get; } = [];

    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.DisposeAsync();
        _playwright?.Dispose();
        try { Directory.Delete(_profile, recursive: true); }
        catch (IOException) { }
    }
}
