using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DiffusionSharp.Studio.Training;

/// <summary>The Training page's API: the runs, a run's summary with the loss rows it lacks, and its sample pictures.</summary>
internal static class TrainingEndpoints
{
    public static void Map(WebApplication app, StudioServices s)
    {
        app.MapGet("/api/runs", () => Results.Json(new { root = s.Options.RunsRoot, runs = s.Runs.Ids() }, StudioJson.Options));

        app.MapGet("/api/runs/{id}", (HttpContext context, string id) =>
        {
            int since = new QueryReader(context.Request.Query).Int("since", 0, 0, int.MaxValue);
            context.Response.Headers.CacheControl = "no-store";
            return Results.Json(s.RunReader.Summary(id, since), StudioJson.Options);
        });

        app.MapGet("/api/runs/{id}/samples/{file}", (HttpContext context, string id, string file) =>
        {
            context.Response.Headers.CacheControl = "no-cache";
            return Results.File(s.RunReader.SamplePath(id, file), "image/png");
        });
    }
}
