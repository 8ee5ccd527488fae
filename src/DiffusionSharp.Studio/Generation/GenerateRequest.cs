using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Studio.Generation;

/// <summary>
/// What the Generate page asks for: the options of <c>diffuse sample</c> with the same names and defaults (the model by
/// id instead of a path), so that the same request gives the same images as the command.
/// </summary>
public sealed record GenerateRequest
{
    /// <summary>Longest clip (samples) of a 1-D (audio) model the studio generates.</summary>
    public const int MaxClipLength = 1 << 16;

    /// <summary>A model id from <c>/api/models</c>.</summary>
    public string? Model { get; init; }

    /// <summary>Use the EMA weights (<c>--ema</c>).</summary>
    public bool Ema { get; init; }

    /// <summary>A sampler name from the catalog, or null for the folder's own scheduler (<c>--sampler</c>).</summary>
    public string? Sampler { get; init; }

    /// <summary>Sampler steps (<c>--steps</c>).</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale, 1 = none (<c>--guidance</c>).</summary>
    public double Guidance { get; init; } = 1.0;

    /// <summary>null, a class number, or "all" (<c>--class</c>).</summary>
    public string? Class { get; init; }

    /// <summary>The seed (<c>--seed</c>).</summary>
    public long Seed { get; init; }

    /// <summary>How many images (<c>--count</c>).</summary>
    public int Count { get; init; } = 64;

    /// <summary>Karras noise levels (<c>--karras</c>).</summary>
    public bool Karras { get; init; }

    /// <summary>DDIM's noise scale (<c>--eta</c>).</summary>
    public double Eta { get; init; }

    /// <summary>leading, trailing, linspace, or null for the folder's own (<c>--spacing</c>).</summary>
    public string? Spacing { get; init; }

    /// <summary>The parsed <see cref="Spacing"/>.</summary>
    public TimestepSpacing? TimestepSpacing => Spacing is null ? null : TimestepSpacings.Parse(Spacing, "spacing");

    /// <summary>Checks the request against the studio's limits and the model, before any work is queued.</summary>
    /// <returns>The labels, the image count and the images per grid row (<see cref="SampleClasses.Resolve"/>).</returns>
    /// <exception cref="InvalidInputException">A value out of range; the message names the request field.</exception>
    public (long[]? Labels, int Count, int? Nrow) Check(ModelInfo model, StudioOptions limits)
    {
        if (Steps < 1 || Steps > Math.Min(limits.MaxSteps, model.NumTrainTimesteps))
            throw InvalidInputException.For<GenerateRequest>(nameof(Steps),
                $" must lie in [1, {Math.Min(limits.MaxSteps, model.NumTrainTimesteps)}] (got {Steps}; the model has {model.NumTrainTimesteps} training timesteps, the studio allows {limits.MaxSteps} steps)");
        if (Count < 1 || Count > limits.MaxCount)
            throw InvalidInputException.For<GenerateRequest>(nameof(Count), $" must lie in [1, {limits.MaxCount}] (got {Count})");
        if (!double.IsFinite(Guidance) || Guidance < 0) throw InvalidInputException.For<GenerateRequest>(nameof(Guidance), $" must be a number >= 0 (got {Guidance})");
        if (!double.IsFinite(Eta) || Eta < 0) throw InvalidInputException.For<GenerateRequest>(nameof(Eta), $" must be a number >= 0 (got {Eta})");
        if (Sampler is not null) SamplerCatalog.Get(Sampler);
        _ = TimestepSpacing;
        if (Ema && !model.HasEma) throw InvalidInputException.For<GenerateRequest>(nameof(Ema), $": model '{model.Id}' has no EMA weights (unet_ema/)");
        if (model.SampleShape is not { } shape) throw InvalidInputException.For<GenerateRequest>(nameof(Model), $": '{model.Id}' has no sample_size in its config.json");
        if (shape.Count == 2 && shape[1] > MaxClipLength)
            throw InvalidInputException.For<GenerateRequest>(nameof(Model), $": '{model.Id}' makes clips of {shape[1]} samples, longer than the studio's {MaxClipLength}");
        if (shape.Count > 2 && shape.Skip(1).Any(side => side > limits.MaxSampleSide))
            throw InvalidInputException.For<GenerateRequest>(nameof(Model), $": '{model.Id}' makes samples of [{string.Join(", ", shape)}], larger than the studio's {limits.MaxSampleSide} per side");
        return SampleClasses.Resolve(Class, Count, model.NumClasses, Guidance);
    }
}
