using System.Text.Json;
using System.Text.Json.Serialization;
using DiffusionSharp.Data;

namespace DiffusionSharp.Training;

/// <summary>
/// What a checkpoint records besides weights and optimizer moments: the step, the options, the data order position and
/// where the data came from. Stored as <c>state.json</c> inside each checkpoint folder.
/// </summary>
public sealed record TrainingState
{
    /// <summary>Optimizer steps completed.</summary>
    public required int Step { get; init; }

    /// <summary>The options the run was started with (the step target may be raised on resume).</summary>
    public required TrainingOptions Options { get; init; }

    /// <summary>The forward-process schedule the model is trained with.</summary>
    public required DiffusionSharp.Schedules.NoiseScheduleConfig Schedule { get; init; }

    /// <summary>The batch loader's position; null before the first step.</summary>
    public BatchLoaderState? Loader { get; init; }

    /// <summary>Where the data came from.</summary>
    public required DataSpec Data { get; init; }

    /// <summary>For latent training: the resolution the images were encoded at (the VAE is the run's <c>vae/</c>); null = pixels.</summary>
    public LatentSpec? Latents { get; init; }

    /// <summary>Steps skipped so far because of non-finite values.</summary>
    public int SkippedSteps { get; init; }

    /// <summary>Wall-clock seconds spent training, over all sessions.</summary>
    public double TrainingSeconds { get; init; }

    /// <summary>When the checkpoint was written (UTC).</summary>
    public DateTime WrittenUtc { get; init; }

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingState FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainingState>(json, Json)
                ?? throw new InvalidInputException($"{source}: empty training state");
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{source}: not a valid training state ({e.Message.Split('\n')[0]})");
        }
    }
}
