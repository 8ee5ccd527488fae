using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace DiffusionSharp.Studio;

/// <summary>
/// The pages: plain HTML, CSS and JavaScript files embedded in this assembly (<c>wwwroot/</c>), read once and served
/// from memory with an ETag, so the studio needs no files beside the app and no build step.
/// </summary>
internal static class StaticPages
{
    private const string Prefix = "wwwroot/";

    /// <summary>The pages' routes and files.</summary>
    public static IReadOnlyDictionary<string, string> Routes { get; } = new Dictionary<string, string>
    {
        ["/"] = "index.html",
        ["/forward"] = "forward.html",
        ["/generate"] = "generate.html",
        ["/training"] = "training.html",
    };

    private static readonly Lazy<Dictionary<string, (byte[] Bytes, string Type, string ETag)>> Files = new(Load);

    /// <summary>Maps the pages and <c>/static/{file}</c>.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        foreach (var (route, file) in Routes) app.MapGet(route, (HttpContext context) => Serve(context, file));
        app.MapGet("/static/{file}", (HttpContext context, string file) => Serve(context, file));
    }

    /// <summary>The embedded file names (for tests).</summary>
    public static IReadOnlyCollection<string> Names => Files.Value.Keys;

    private static IResult Serve(HttpContext context, string file)
    {
        if (!Files.Value.TryGetValue(file, out var entry)) return Results.Json(new { error = $"not found: {file}" }, StudioJson.Options, statusCode: 404);
        context.Response.Headers.ETag = entry.ETag;
        context.Response.Headers.CacheControl = "no-cache";
        if (context.Request.Headers.IfNoneMatch == entry.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(entry.Bytes, entry.Type);
    }

    private static Dictionary<string, (byte[], string, string)> Load()
    {
        var assembly = typeof(StaticPages).Assembly;
        var files = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var bytes = memory.ToArray();
            string etag = "\"" + Convert.ToHexString(SHA256.HashData(bytes))[..16] + "\"";
            files[name[Prefix.Length..]] = (bytes, ContentType(name), etag);
        }
        return files;
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}
