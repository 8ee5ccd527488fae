using System.Diagnostics;
using System.Net.Sockets;

namespace DiffusionSharp.Tests.Studio;

/// <summary>A bounded burst on the loopback, a client that stops reading, and the server's tensors afterwards.</summary>
[Collection(StudioCollection.Name)]
public sealed class StudioLoadTests
{
    [Fact]
    public async Task Should_answer_a_burst_of_50_generations_and_200_page_loads_stay_responsive_and_leak_no_tensors()
    {
        // Given a studio that has run one generation and one forward request (so its threads and caches are warm)
        await using var studio = await StudioHarness.StartAsync();
        var small = new { model = StudioHarness.TinyConditional, sampler = "ddim", steps = 3, count = 2, @class = "1", guidance = 2, seed = 0L };
        Assert.Equal("done", (await studio.GenerateAsync(small)).Events[^1].Name);
        await studio.Http.GetByteArrayAsync("/api/forward?image=mnist:1&t=500");
        long tensorsBefore = await studio.Server.LiveTensorsAsync();

        // When 50 generate requests and 200 page and API loads arrive at once, bounded by a 30 s deadline
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var generations = Enumerable.Range(0, 50).Select(i => Task.Run(() => studio.GenerateAsync(small with { seed = (long)i }, deadline.Token))).ToList();
        string[] pages = ["/", "/forward", "/generate", "/training", "/static/studio.js", "/api/models", "/api/samplers", "/api/runs", "/api/images", "/api/forward?image=mnist:2&t=300"];
        var loads = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            using var response = await studio.Http.GetAsync(pages[i % pages.Length], deadline.Token);
            return (int)response.StatusCode;
        })).ToList();
        var probe = Stopwatch.StartNew();
        using (var status = await studio.Http.GetAsync("/api/status", deadline.Token)) Assert.True(status.IsSuccessStatusCode);
        var statusLatency = probe.Elapsed;
        var generated = await Task.WhenAll(generations);
        var loaded = await Task.WhenAll(loads);

        // Then every request was answered, a generation with its final image or a JSON 429, every load with 200 or 429,
        // the server answered a status request at once during the burst, and its tensors are back to where they were
        Assert.All(generated, g => Assert.True(g.Status == 429 ? g.Body.Contains("\"error\":\"busy:", StringComparison.Ordinal) : g.Status == 200 && g.Events[^1].Name == "done", $"{g.Status}: {g.Body[..Math.Min(200, g.Body.Length)]}"));
        Assert.Contains(generated, g => g.Status == 200);
        Assert.All(loaded, code => Assert.True(code is 200 or 429, $"HTTP {code}"));
        Assert.True(statusLatency < TimeSpan.FromSeconds(2), $"/api/status took {statusLatency} during the burst");
        Assert.Equal(0, studio.Server.GenerationsAdmitted);
        Assert.Equal(tensorsBefore, await studio.Server.LiveTensorsAsync());
        Assert.Equal("done", (await studio.GenerateAsync(small)).Events[^1].Name);
    }

    [Fact]
    public async Task Should_make_a_generation_wait_for_a_client_that_stops_reading_instead_of_buffering_its_steps()
    {
        // Given a generation of 40 DDIM steps of 64 images, a queue of 4 events and a 16 KiB socket send buffer per client,
        // and the run's time when read at once
        await using var studio = await StudioHarness.StartAsync(o => o with { StepQueueCapacity = 4, SendBufferBytes = 16 * 1024 });
        var request = new { model = StudioHarness.TinyConditional, sampler = "ddim", steps = 40, count = 64 };
        var clock = Stopwatch.StartNew();
        var (status, events, body) = await studio.GenerateAsync(request);
        Assert.True(status == 200, body);
        var unhindered = clock.Elapsed;
        long eventBytes = body.Length / events.Count;

        // When a client with a 4 KiB socket receive buffer reads the headers, then nothing for a pause much longer than
        // the whole run, then the rest
        var pause = TimeSpan.FromSeconds(Math.Max(2, 3 * unhindered.TotalSeconds));
        using var slowClient = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(context.DnsEndPoint, token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        }) { BaseAddress = studio.Http.BaseAddress };
        using var message = new HttpRequestMessage(HttpMethod.Post, "/api/generate") { Content = StudioHarness.Json(request) };
        using var response = await slowClient.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        await Task.Delay(pause);
        var steps = StudioHarness.ParseEvents(await new StreamReader(stream).ReadToEndAsync()).Where(e => e.Name == "step").ToList();

        // Then the run did not go on while nobody read: only the steps that the queue and the socket and server buffers
        // hold were made during the pause; the others waited for the reader, and every step arrived, in order
        Assert.Equal(Enumerable.Range(0, 40), steps.Select(s => s.Data.GetProperty("index").GetInt32()));
        int duringPause = steps.Count(s => s.Data.GetProperty("elapsedMs").GetDouble() < pause.TotalMilliseconds);
        Assert.True(duringPause <= 20, $"{duringPause} of 40 steps ({eventBytes} bytes each) were made during the {pause} pause (the whole run takes {unhindered})");
    }
}
