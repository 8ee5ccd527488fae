using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace DiffusionSharp.Studio;

/// <summary>
/// Who may use the studio. On loopback without a token: requests whose <c>Host</c> header names the loopback (so a web
/// page elsewhere cannot reach it by DNS rebinding). With a token (required off loopback): every request carries it, as
/// <c>?token=</c> (the printed URL; it is then kept in a same-site cookie), the cookie, or <c>Authorization: Bearer</c>.
/// Requests that change something must come from the studio's own pages (an <c>Origin</c> header, when sent, must
/// match the host). Every answer forbids framing and sniffing and allows scripts from the studio only.
/// </summary>
internal static class AccessGuard
{
    /// <summary>The token's cookie, per port: cookies are shared by all ports of a host, tokens are not.</summary>
    public static string CookieName(HttpContext context) => "studio_token_" + context.Connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
    private static readonly string[] LoopbackHosts = ["127.0.0.1", "localhost", "[::1]"];

    public static void UseAccessGuard(this WebApplication app, StudioOptions options)
    {
        byte[]? token = options.Token is null ? null : Encoding.UTF8.GetBytes(options.Token);
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'";

            if (options.IsLoopback && !LoopbackHosts.Contains(context.Request.Host.Host, StringComparer.OrdinalIgnoreCase))
            {
                await StudioErrors.WriteAsync(context, StatusCodes.Status400BadRequest,
                    $"host: '{context.Request.Host.Host}' is not this studio's address (it listens on the loopback only)", "host");
                return;
            }
            if (token is not null)
            {
                string? query = context.Request.Query["token"];
                bool fromQuery = Matches(query, token);
                if (!fromQuery && !Matches(context.Request.Cookies[CookieName(context)], token) && !Matches(Bearer(context.Request), token))
                {
                    await StudioErrors.WriteAsync(context, StatusCodes.Status401Unauthorized,
                        "token: missing or wrong; open the URL that diffuse studio printed (it carries ?token=...)", "token");
                    return;
                }
                if (fromQuery)
                    context.Response.Cookies.Append(CookieName(context), query!, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
            }
            if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
                && context.Request.Headers.Origin is { Count: > 0 } origin
                && !(Uri.TryCreate(origin.ToString(), UriKind.Absolute, out var uri) && uri.Authority.Equals(context.Request.Host.Value, StringComparison.OrdinalIgnoreCase)))
            {
                await StudioErrors.WriteAsync(context, StatusCodes.Status403Forbidden, $"origin: requests from {origin} are refused; use the studio's own pages", "origin");
                return;
            }
            await next(context);
        });
    }

    private static string? Bearer(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        return header is not null && header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;
    }

    private static bool Matches(string? given, byte[] token) =>
        given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), token);
}
