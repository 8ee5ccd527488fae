using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using DiffusionSharp.Tests.Reliability;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Studio;

/// <summary><c>diffuse studio</c> as a newcomer runs it: a child process that prints its URL and stops on SIGTERM.</summary>
[Collection(StudioCollection.Name)]
public sealed partial class StudioCommandTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Should_print_the_url_serve_the_pages_and_stop_cleanly_on_sigterm()
    {
        // Given diffuse studio started on a free port with the repository's models
        using var studio = DiffuseProcess.Start(TestPaths.RepoRoot, ["studio", "--port", "0", "--runs", _dir]);

        // When it has printed its URL and the home page and the model list are asked for
        var url = WaitForUrl(studio);
        using var http = new HttpClient();
        string home = await http.GetStringAsync(url);
        string models = await http.GetStringAsync(new Uri(url, "/api/models"));
        studio.Signal("TERM");

        // Then it serves the loopback only, offers the shipped diffusion model (not the classifier), and stops with 0
        Assert.Equal("127.0.0.1", url.Host);
        Assert.Contains("<title>DiffusionSharp Studio</title>", home);
        Assert.Contains("\"id\":\"mnist-tiny-cond\"", models);
        Assert.DoesNotContain("mnist-classifier", models);
        Assert.Equal(0, studio.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("studio stopped", studio.Stdout);
    }

    [Fact]
    public async Task Should_make_and_print_a_token_when_bound_off_the_loopback_without_one()
    {
        // Given diffuse studio on 0.0.0.0 without --token
        using var studio = DiffuseProcess.Start(TestPaths.RepoRoot, ["studio", "--host", "0.0.0.0", "--port", "0", "--runs", _dir]);

        // When it has printed its URL, and the studio is asked for without and with the token
        var url = WaitForUrl(studio);
        using var http = new HttpClient();
        var without = await http.GetAsync(new Uri(url, "/api/models"));
        var with = await http.GetAsync(url);
        studio.Signal("TERM");

        // Then the URL carries a long random token, which every request needs
        Assert.Matches("^\\?token=[A-Za-z0-9_-]{32}$", url.Query);
        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal(HttpStatusCode.OK, with.StatusCode);
        Assert.Contains("every request must carry the token", studio.Stdout);
        Assert.Equal(0, studio.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Should_refuse_bad_options_in_one_line_naming_the_flag()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var cases = new (string[] Args, string Message)[]
        {
            (["--models", Path.Combine(_dir, "nope")], $"--models: {Path.Combine(_dir, "nope")} does not exist"),
            (["--host", "0.0.0.0", "--token", "short"], "--token must be at least 8 printable ASCII characters"),
            (["--host", "not-an-address"], "--host: 'not-an-address' is not an IP address or localhost"),
            (["--port", "70000"], "--port must lie in [0, 65535] (got 70000)"),
            (["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], $"--port: cannot listen on 127.0.0.1:{port}"),
            (["--max-queue", "-1"], "--max-queue must be 0 or more (got -1)"),
        };
        foreach (var (args, message) in cases)
        {
            var r = CliRunner.RunIn(TestPaths.RepoRoot, ["studio", "--runs", _dir, .. args]);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}: exit {r.ExitCode}, {r.StdErr}");
            var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("diffuse: error: " + message, lines[0]);
        }
    }

    private static Uri WaitForUrl(DiffuseProcess studio)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (UrlLine().Match(studio.Stdout) is { Success: true } m) return new Uri(m.Groups[1].Value);
            Assert.False(studio.HasExited, $"diffuse studio exited: {studio.Stdout} {studio.Stderr}");
            Thread.Sleep(20);
        }
        throw new TimeoutException($"diffuse studio printed no URL: {studio.Stdout} {studio.Stderr}");
    }

    [GeneratedRegex(@"^open (http://\S+)$", RegexOptions.Multiline)]
    private static partial Regex UrlLine();
}
