namespace DiffusionSharp.Studio;

/// <summary>
/// A request the studio refuses: the HTTP status and a one-line message naming the request field (<see cref="Field"/>)
/// and what is wrong. The error handler answers it as <c>{"error": message, "field": field}</c>.
/// </summary>
public sealed class StudioRequestException : Exception
{
    /// <summary>An error about <paramref name="field"/> (null when it is about no one field), answered with <paramref name="status"/>.</summary>
    public StudioRequestException(int status, string message, string? field = null) : base(message)
    {
        Status = status;
        Field = field;
    }

    /// <summary>The HTTP status: 400 bad value, 401 no token, 403 refused path, 404 unknown id, 413 too large, 429 busy.</summary>
    public int Status { get; }

    /// <summary>The request field (query parameter or JSON member) the message is about, or null.</summary>
    public string? Field { get; }

    /// <summary>400: a value of <paramref name="field"/> is wrong; the message starts with the field's name.</summary>
    public static StudioRequestException BadValue(string field, string rest) => new(400, field + rest, field);
}
