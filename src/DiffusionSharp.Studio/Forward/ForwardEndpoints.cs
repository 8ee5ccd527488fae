using DiffusionSharp.Imaging;
using DiffusionSharp.Noising;
using DiffusionSharp.Schedules;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Studio.Forward;

/// <summary>
/// The Forward page's API: the images, uploads, a schedule's ᾱ_t table, and x_t of an image at t. The schedule
/// parameters are <c>diffuse schedule</c>'s, under diffusers' names (<c>beta_schedule</c>, <c>num_train_timesteps</c>,
/// <c>beta_start</c>, <c>beta_end</c>, <c>rescale_betas_zero_snr</c>), which the library's messages name too.
/// </summary>
internal static class ForwardEndpoints
{
    private static readonly string[] ScheduleKeys = ["beta_schedule", "num_train_timesteps", "beta_start", "beta_end", "rescale_betas_zero_snr"];

    public static void Map(WebApplication app, StudioServices s)
    {
        app.MapGet("/api/images", () => Results.Json(new
        {
            mnistCount = s.Images.MnistCount,
            samples = s.Images.SampleImages().Select(i => new { id = i.Id, label = i.Label }),
            maxUploadBytes = s.Options.MaxUploadBytes,
        }, StudioJson.Options));

        app.MapPost("/api/uploads", async (HttpContext context) =>
        {
            byte[] bytes = await ReadBodyAsync(context.Request, s.Options.MaxUploadBytes, context.RequestAborted);
            if (!s.UploadSlots.Wait(0)) throw new StudioRequestException(StatusCodes.Status429TooManyRequests, "busy: other uploads are being decoded; try again");
            try
            {
                string id = s.Images.AddUpload(bytes, s.Options.MaxUploadPixels);
                return Results.Json(new { id }, StudioJson.Options);
            }
            finally
            {
                s.UploadSlots.Release();
            }
        });

        app.MapGet("/api/schedule", (HttpContext context) =>
        {
            var schedule = NoiseSchedule.Create(ReadSchedule(new QueryReader(context.Request.Query), s.Options.MaxTrainTimesteps));
            return Results.Json(new { numTrainTimesteps = schedule.NumTrainTimesteps, alphasCumprod = schedule.AlphasCumprod.ToArray(), betas = schedule.Betas.ToArray() }, StudioJson.Options);
        });

        app.MapGet("/api/forward", async (HttpContext context) =>
        {
            var q = new QueryReader(context.Request.Query);
            var config = ReadSchedule(q, s.Options.MaxTrainTimesteps);
            int t = q.Int("t", 0, 0, config.NumTrainTimesteps - 1);
            long seed = q.Long("seed", 0);
            var image = s.Images.Get(q.String("image"));
            var png = s.ForwardWorker.TryRun(() => NoisedPng(image, config, t, seed))
                ?? throw new StudioRequestException(StatusCodes.Status429TooManyRequests, "busy: too many forward-process requests are waiting; try again");
            context.Response.Headers.CacheControl = "no-store";
            return Results.Bytes(await png, "image/png");
        });
    }

    /// <summary>
    /// x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 - ᾱ_t)·ε of the image at <paramref name="t"/>, ε drawn as <c>diffuse noise</c> draws a row's
    /// noise (<c>randn(x_0.shape)</c> from a generator seeded with <paramref name="seed"/>), clamped to [-1, 1], as PNG.
    /// Runs on the tensor thread.
    /// </summary>
    internal static byte[] NoisedPng(ImageSources.Source image, NoiseScheduleConfig config, int t, long seed)
    {
        using var scope = torch.NewDisposeScope();
        using var inference = torch.inference_mode();
        using var forward = new ForwardProcess(NoiseSchedule.Create(config));
        using var generator = new Generator((ulong)seed);
        var x0 = torch.tensor(image.Values, image.Shape);
        var noise = torch.randn(x0.shape, generator: generator);
        var xt = forward.AddNoise(x0.unsqueeze(0), noise.unsqueeze(0), torch.tensor(new[] { (long)t }));
        return ImageFile.ToPng(xt.clamp(-1, 1));
    }

    /// <summary>The schedule the query describes (each parameter optional, with <c>diffuse schedule</c>'s default).</summary>
    internal static NoiseScheduleConfig ReadSchedule(QueryReader q, int maxTimesteps)
    {
        try
        {
            var config = new NoiseScheduleConfig(
                q.Int("num_train_timesteps", 1000, 1, maxTimesteps),
                q.Double("beta_start", 0.0001),
                q.Double("beta_end", 0.02),
                BetaScheduleNames.Parse(q.String("beta_schedule") ?? "linear", "beta_schedule"),
                q.Bool("rescale_betas_zero_snr", false));
            config.Validate();
            return config;
        }
        catch (InvalidInputException e)
        {
            // The schedule's messages start with diffusers' key, which is the query parameter.
            string? key = ScheduleKeys.FirstOrDefault(k => e.Message.StartsWith(k, StringComparison.Ordinal));
            throw new StudioRequestException(StatusCodes.Status400BadRequest, e.Message, key);
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, long limit, CancellationToken token)
    {
        if (request.ContentLength > limit) throw TooLarge(limit);
        using var memory = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, token)) > 0)
        {
            if (memory.Length + read > limit) throw TooLarge(limit);
            memory.Write(buffer, 0, read);
        }
        if (memory.Length == 0) throw StudioRequestException.BadValue("image", ": the upload is empty");
        return memory.ToArray();
    }

    private static StudioRequestException TooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, $"image: the upload is larger than {limit / 1024} KiB", "image");
}
