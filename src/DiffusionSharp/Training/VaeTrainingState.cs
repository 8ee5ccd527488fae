using System.Text.Json;
using DiffusionSharp.Data;

namespace DiffusionSharp.Training;

/// <summary>
/// What a VAE checkpoint records besides weights and optimizer moments (its <c>state.json</c>): the step, the options, where the
/// data came from and the batch loader's position. The held-out split is not stored: it follows from the seed and the data.
/// </summary>
public sealed record VaeTrainingState
{
    /// <summary>Optimizer steps completed.</summary>
    public required int Step { get; init; }

    /// <summary>The options (the step target may be raised on resume).</summary>
    public required VaeTrainingOptions Options { get; init; }

    /// <summary>Where the data came from, with its resolution.</summary>
    public required DataSpec Data { get; init; }

    /// <summary>The batch loader's position; null before the first step.</summary>
    public BatchLoaderState? Loader { get; init; }

    /// <summary>Steps skipped so far because of non-finite values.</summary>
    public int SkippedSteps { get; init; }

    /// <summary>Wall-clock seconds spent training, over all sessions.</summary>
    public double TrainingSeconds { get; init; }

    /// <summary>As JSON (the U-Net trainer's conventions: snake_case keys, enums as strings).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, TrainingState.Json);

    /// <summary>Parses <c>state.json</c>.</summary>
    /// <exception cref="InvalidInputException">Not a VAE training state; the message names <paramref name="source"/>.</exception>
    public static VaeTrainingState FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<VaeTrainingState>(json, TrainingState.Json)
                ?? throw new InvalidInputException($"{source}: empty training state");
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{source}: not a valid VAE training state ({e.Message.Split('\n')[0]})");
        }
    }
}
