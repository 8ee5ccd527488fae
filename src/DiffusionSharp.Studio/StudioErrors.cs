using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DiffusionSharp.Studio;

/// <summary>
/// Every error the studio answers is one JSON object <c>{"error": "...", "field": "..."}</c> with a one-line message,
/// never a stack trace. A library <see cref="InvalidInputException"/> names a property (<c>Type.Member</c>); as the CLI
/// maps properties to flags, this maps them to the request fields the pages send.
/// </summary>
public static class StudioErrors
{
    /// <summary>The request field of each library property whose value comes from a studio request.</summary>
    private static readonly Dictionary<string, string> Fields = new(StringComparer.Ordinal)
    {
        ["DiffusionPipeline.folder"] = "model",
        ["DiffusionPipeline.useEma"] = "ema",
        ["DiffusionPipeline.count"] = "count",
        ["DiffusionPipeline.condition"] = "class",
        ["DiffusionPipeline.guidance"] = "guidance",
        ["SamplerCatalog.samplerName"] = "sampler",
        ["SamplerOverrides.KarrasSigmas"] = "karras",
        ["SamplerOverrides.TimestepSpacing"] = "spacing",
        ["SamplerOverrides.Eta"] = "eta",
        ["DDIMSchedulerOptions.Eta"] = "eta",
        ["StableDiffusionPipeline.folder"] = "model",
        ["StableDiffusionPipeline.size"] = "model",
        ["StableDiffusionPipeline.steps"] = "steps",
        ["StableDiffusionPipeline.guidance"] = "guidance",
    };

    /// <summary>The request field of a library property, or null when no request field carries it.</summary>
    public static string? FieldOf(string property) => Fields.GetValueOrDefault(property)
        ?? (property.StartsWith(nameof(Generation.GenerateRequest) + ".", StringComparison.Ordinal)
            ? JsonNamingPolicy.CamelCase.ConvertName(InvalidInputException.MemberOf(property))
            : null);

    /// <summary>The status, message and field of an exception, as the client is told.</summary>
    public static (int Status, string Message, string? Field) Describe(Exception e) => e switch
    {
        StudioRequestException r => (r.Status, r.Message, r.Field),
        InvalidInputException i => (StatusCodes.Status400BadRequest, OneLine(i.MessageWith(FieldOf)), i.Properties.Select(FieldOf).FirstOrDefault(f => f is not null)),
        BadHttpRequestException b => (b.StatusCode, OneLine(b.StatusCode == StatusCodes.Status413PayloadTooLarge ? "request body: too large" : "bad request: " + b.Message), null),
        JsonException j => (StatusCodes.Status400BadRequest, BodyError(j), null),
        _ => (StatusCodes.Status500InternalServerError, $"internal error: {e.GetType().Name}", null),
    };

    /// <summary>Writes <c>{"error", "field"}</c> with <paramref name="status"/>.</summary>
    public static Task WriteAsync(HttpContext context, int status, string message, string? field = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new ErrorBody(message, field), StudioJson.Options));
    }

    /// <summary>
    /// Answers exceptions thrown further down as JSON errors, and empty 4xx/5xx answers (unknown route, wrong method) too;
    /// an internal error is reported on the server's standard error in one line (with the stack trace when <paramref name="verbose"/>).
    /// </summary>
    public static void UseJsonErrors(this WebApplication app, bool verbose)
    {
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away: nobody to answer.
            }
            catch (Exception e)
            {
                var (status, message, field) = Describe(e);
                if (status >= 500) Console.Error.WriteLine($"studio: {context.Request.Method} {context.Request.Path}: {(verbose ? e.ToString() : message)}");
                if (context.Response.HasStarted) return;
                context.Response.Clear();
                await WriteAsync(context, status, message, field);
            }
        });
        app.UseStatusCodePages(async status =>
        {
            var response = status.HttpContext.Response;
            string message = response.StatusCode switch
            {
                StatusCodes.Status404NotFound => $"not found: {status.HttpContext.Request.Path}",
                StatusCodes.Status405MethodNotAllowed => $"method not allowed: {status.HttpContext.Request.Method} {status.HttpContext.Request.Path}",
                StatusCodes.Status413PayloadTooLarge => "request body: too large",
                _ => $"HTTP {response.StatusCode}",
            };
            await WriteAsync(status.HttpContext, response.StatusCode, message);
        });
    }

    /// <summary>System.Text.Json's message names .NET types; say which field of the request is wrong instead.</summary>
    private static string BodyError(JsonException e) =>
        e.Message.Contains("could not be mapped", StringComparison.Ordinal) && e.Path is { Length: > 2 } path
            ? $"request body: unknown field '{path[2..]}'"
            : $"request body: not the JSON expected{(e.Path is { Length: > 2 } at ? $" at '{at[2..]}'" : "")} (expected an object of the documented fields with values of their types)";

    private static string OneLine(string s) =>
        s.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "";

    private sealed record ErrorBody(string Error, string? Field);
}
