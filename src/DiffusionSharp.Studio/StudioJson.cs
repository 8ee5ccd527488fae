using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffusionSharp.Studio;

/// <summary>The JSON the studio reads and writes: camelCase members; an unknown member in a request is an error, not ignored.</summary>
public static class StudioJson
{
    /// <summary>Options for requests and answers.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Answers are application/json with nosniff: '<' and quotes need no escaping for a browser; messages stay readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
