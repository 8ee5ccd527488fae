using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using DiffusionSharp.Benchmarks;
using DiffusionSharp.Studio.Generation;

namespace DiffusionSharp.Studio;

/// <summary>
/// How live the Generate page is (<c>diffuse bench studio</c>): a studio on a free loopback port over the model's parent
/// folder, and generations posted to it as the page posts them, timed from the client's side of the event stream (request
/// sent to each event's arrival). The first run loads the model; the later ones find it loaded, as a user's second
/// Generate does.
/// </summary>
public static class StudioBenchmark
{
    /// <summary>What to generate and how often.</summary>
    /// <param name="Model">A diffusion model folder.</param>
    /// <param name="Ema">Use its EMA weights.</param>
    /// <param name="Sampler">A sampler of the catalog, or null for the folder's own.</param>
    /// <param name="Steps">Sampler steps.</param>
    /// <param name="Count">Images per generation.</param>
    /// <param name="Class">A class, <c>all</c>, or null.</param>
    /// <param name="Guidance">Classifier-free guidance weight.</param>
    /// <param name="Seed">The seed of every run.</param>
    /// <param name="Eta">DDIM's noise scale.</param>
    /// <param name="Karras">Karras noise levels.</param>
    /// <param name="Spacing">Timestep spacing, or null for the folder's own.</param>
    /// <param name="Runs">Generations after the first (the model already loaded).</param>
    public sealed record Options(string Model, bool Ema, string? Sampler, int Steps, int Count, string? Class, double Guidance, long Seed, double Eta, bool Karras, string? Spacing, int Runs)
    {
        /// <exception cref="InvalidInputException">A value is out of range or the model folder is missing.</exception>
        public void Validate()
        {
            if (Runs < 1) throw InvalidInputException.For<Options>(nameof(Runs), $" must be at least 1 (got {Runs})");
            if (!Directory.Exists(Model)) throw InvalidInputException.For<Options>(nameof(Model), $": {Model} is not a folder");
        }
    }

    /// <summary>One generation as the client saw it.</summary>
    /// <param name="FirstStepMs">Request sent to the first step event.</param>
    /// <param name="StepMs">Between consecutive step events.</param>
    /// <param name="DoneMs">Request sent to the final grid.</param>
    public sealed record RunTiming(double FirstStepMs, IReadOnlyList<double> StepMs, double DoneMs)
    {
        /// <summary>The median of <see cref="StepMs"/>.</summary>
        public double MedianStepMs => Median(StepMs);
    }

    /// <summary>The cold run, the warm runs, and the server's live tensors after the cold run and after the last.</summary>
    public sealed record Result(Options Options, string Sampler, RunTiming Cold, IReadOnlyList<RunTiming> Warm, long LiveTensorsAfterFirst, long LiveTensorsAfterLast, MachineInfo Machine)
    {
        /// <summary>Median over the warm runs of the time to the first step image.</summary>
        public double FirstStepMs => Median(Warm.Select(r => r.FirstStepMs));

        /// <summary>Median of every warm step.</summary>
        public double StepMs => Median(Warm.SelectMany(r => r.StepMs));

        /// <summary>The slowest warm step.</summary>
        public double MaxStepMs => Warm.SelectMany(r => r.StepMs).DefaultIfEmpty().Max();
    }

    /// <summary>Runs the benchmark; the caller has initialized TorchSharp (threads, device).</summary>
    /// <exception cref="InvalidInputException">An option is refused (by this class or by the studio's own checks).</exception>
    public static async Task<Result> RunAsync(Options o, CancellationToken token)
    {
        o.Validate();
        string folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.Model));
        string id = Path.GetFileName(folder), root = Path.GetDirectoryName(folder)!;
        var options = new StudioOptions { ModelsRoot = root, RunsRoot = root, Port = 0 };
        var request = new GenerateRequest { Model = id, Ema = o.Ema, Sampler = o.Sampler, Steps = o.Steps, Count = o.Count, Class = o.Class, Guidance = o.Guidance,
            Seed = o.Seed, Eta = o.Eta, Karras = o.Karras, Spacing = o.Spacing };
        if (!ModelInfo.IsModelFolder(folder)) throw InvalidInputException.For<Options>(nameof(Options.Model), $": {o.Model} is not a diffusion model folder (no unet/ or config.json)");
        request.Check(ModelInfo.Read(id, folder), options);

        await using var server = await StudioServer.StartAsync(options);
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = Timeout.InfiniteTimeSpan };
        string body = JsonSerializer.Serialize(request, StudioJson.Options);
        var (sampler, cold) = await GenerateAsync(http, body, token);
        long afterFirst = await server.LiveTensorsAsync();
        var warm = new List<RunTiming>();
        for (int i = 0; i < o.Runs; i++) warm.Add((await GenerateAsync(http, body, token)).Timing);
        long afterLast = await server.LiveTensorsAsync();
        return new Result(o, sampler, cold, warm, afterFirst, afterLast, MachineInfo.Current());
    }

    private static async Task<(string Sampler, RunTiming Timing)> GenerateAsync(HttpClient http, string body, CancellationToken token)
    {
        using var content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        using var message = new HttpRequestMessage(HttpMethod.Post, "/api/generate") { Content = content };
        var clock = Stopwatch.StartNew();
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"the studio answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(token)}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(token));
        var steps = new List<double>();
        string? name = null, sampler = null;
        while (await reader.ReadLineAsync(token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            else if (name == "step") steps.Add(clock.Elapsed.TotalMilliseconds);
            else if (name == "start") sampler = JsonDocument.Parse(line[6..]).RootElement.GetProperty("sampler").GetString();
            else if (name == "error") throw new InvalidOperationException("the generation failed: " + line[6..]);
            else if (name == "done")
            {
                if (steps.Count == 0) throw new InvalidOperationException("the generation ended without a step event");
                return (sampler ?? "", new RunTiming(steps[0], steps.Zip(steps.Skip(1), (a, b) => b - a).ToList(), clock.Elapsed.TotalMilliseconds));
            }
        }
        throw new InvalidOperationException("the event stream ended before the final grid");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
