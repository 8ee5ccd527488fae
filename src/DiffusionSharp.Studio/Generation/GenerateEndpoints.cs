using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using DiffusionSharp.Samplers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DiffusionSharp.Studio.Generation;

/// <summary>
/// The Generate page's API: the models and samplers to choose from, and <c>POST /api/generate</c>, which answers with
/// a stream of server-sent events (queued, start, one step event per step, done or error). Each stream has a bounded
/// queue (<see cref="StudioOptions.StepQueueCapacity"/>): a slow client makes its generation wait, never the server
/// buffer. The generation stops at its next step when the client goes away (Cancel, a closed tab) or the server stops.
/// </summary>
internal static class GenerateEndpoints
{
    public static void Map(WebApplication app, StudioServices s)
    {
        app.MapGet("/api/models", () => Results.Json(new
        {
            root = s.Options.ModelsRoot,
            models = s.Models.Ids().Select(id => Describe(s, id)),
            limits = new { s.Options.MaxSteps, s.Options.MaxCount },
        }, StudioJson.Options));

        // Built from the catalog, so a sampler added there appears here.
        app.MapGet("/api/samplers", () => Results.Json(SamplerCatalog.Entries.Select(e => new
        {
            name = e.Name,
            className = e.ClassName,
            karras = e.Capabilities.HasKarrasSigmas,
            eta = e.Capabilities.TakesEta,
            stochastic = e.Capabilities.Stochastic,
        }), StudioJson.Options));

        app.MapPost("/api/generate", async (HttpContext context) =>
        {
            var clock = Stopwatch.StartNew();
            var request = await context.Request.ReadFromJsonAsync<GenerateRequest>(StudioJson.Options, context.RequestAborted)
                ?? throw StudioRequestException.BadValue("body", ": expected a JSON object");
            string folder = s.Models.Folder(request.Model, checkContents: true);
            var info = ModelInfo.Read(request.Model!, folder);
            request.Check(info, s.Options);
            if (info.TextToImage) s.Tokenizers.CheckPrompts(folder, request);
            var job = new GenerationJob(request, folder, Path.Combine(s.Options.ModelsRoot, request.Model!), s.Options.BatchSize, s.Clips, s.Options.LatentPreviews);
            await StreamAsync(context, s, job, clock);
        });

        // The clips of an audio generation, by the id its done event gave.
        app.MapGet("/api/clips/{id}/{file}", (string id, string file) =>
        {
            var wav = file.EndsWith(".wav", StringComparison.Ordinal) && int.TryParse(file[..^4], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index)
                ? s.Clips.Get(id, index) : null;
            return wav is null
                ? throw new StudioRequestException(StatusCodes.Status404NotFound, $"clip: no clip '{file}' of generation '{id}' (only the last 4 generations' clips are kept)")
                : Results.Bytes(wav, "audio/wav");
        });
    }

    private static object Describe(StudioServices s, string id)
    {
        try
        {
            var info = ModelInfo.Read(id, s.Models.Folder(id));
            return new { id, info.ClassName, info.SampleShape, info.NumClasses, info.HasEma, info.NumTrainTimesteps, info.Scheduler, info.Vae, info.OutputShape, info.TextToImage };
        }
        catch (Exception e) when (e is InvalidInputException or StudioRequestException or IOException)
        {
            return new { id, error = StudioErrors.Describe(e).Message };
        }
    }

    private static async Task StreamAsync(HttpContext context, StudioServices s, GenerationJob job, Stopwatch clock)
    {
        var channel = Channel.CreateBounded<GenerationEvent>(new BoundedChannelOptions(s.Options.StepQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, s.Stopping.Token);
        int ahead = s.GenerationWorker.Admitted;
        var run = s.GenerationWorker.TryRun(() => Run(job, s.Networks, channel.Writer, clock, s.Verbose, cancel.Token))
            ?? throw new StudioRequestException(StatusCodes.Status429TooManyRequests,
                $"busy: one generation runs at a time and {s.Options.MaxQueuedGenerations} may wait; all {s.GenerationWorker.Capacity} places are taken, try again when one ends");
        try
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-store";
            if (ahead > 0) await WriteAsync(context.Response, new QueuedEvent(ahead), cancel.Token);
            await foreach (var e in channel.Reader.ReadAllAsync(cancel.Token)) await WriteAsync(context.Response, e, cancel.Token);
        }
        catch (OperationCanceledException)
        {
            // Cancel pressed, the tab closed, or the server stops: the generation ends at its next step.
        }
        finally
        {
            cancel.Cancel();
            await run;
        }
    }

    /// <summary>Runs the job on the tensor thread; every outcome ends the stream, an error as an error event.</summary>
    private static bool Run(GenerationJob job, NetworkCache networks, ChannelWriter<GenerationEvent> writer, Stopwatch clock, bool verbose, CancellationToken token)
    {
        try
        {
            job.Run(networks, e => Post(writer, e, token), clock, token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception e)
        {
            var (status, message, field) = StudioErrors.Describe(e);
            if (status >= 500) Console.Error.WriteLine($"studio: generation failed: {(verbose ? e.ToString() : message)}");
            try
            {
                Post(writer, new ErrorEvent(message, field), token);
            }
            catch (OperationCanceledException)
            {
                // Nobody is listening any more.
            }
        }
        finally
        {
            writer.TryComplete();
        }
        return true;
    }

    /// <summary>Queues an event, waiting (on the tensor thread) while the client's queue is full.</summary>
    private static void Post(ChannelWriter<GenerationEvent> writer, GenerationEvent e, CancellationToken token)
    {
        if (!writer.TryWrite(e)) writer.WriteAsync(e, token).AsTask().GetAwaiter().GetResult();
    }

    private static async Task WriteAsync(HttpResponse response, GenerationEvent e, CancellationToken token)
    {
        string json = JsonSerializer.Serialize(e, e.GetType(), StudioJson.Options);
        await response.WriteAsync($"event: {e.Name}\ndata: {json}\n\n", token);
        await response.Body.FlushAsync(token);
    }
}
