using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Text;

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

    /// <summary>Text-to-image models (Stable Diffusion pipeline folders): the prompt (<c>--prompt</c>); null for other models.</summary>
    public string? Prompt { get; init; }

    /// <summary>With <see cref="Prompt"/>: what guidance steers away from (<c>--negative-prompt</c>); null = the empty prompt.</summary>
    public string? NegativePrompt { get; init; }

    /// <summary>Longest prompt (and negative prompt) in characters; the token count is checked too (<see cref="CheckPromptTokens"/>).</summary>
    public const int MaxPromptLength = 1000;

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
        if ((model.OutputShape ?? model.SampleShape) is not { } shape) throw InvalidInputException.For<GenerateRequest>(nameof(Model), $": '{model.Id}' has no sample_size in its config.json");
        if (shape.Count == 2 && shape[1] > MaxClipLength)
            throw InvalidInputException.For<GenerateRequest>(nameof(Model), $": '{model.Id}' makes clips of {shape[1]} samples, longer than the studio's {MaxClipLength}");
        if (shape.Count > 2 && shape.Skip(1).Any(side => side > limits.MaxSampleSide))
            throw InvalidInputException.For<GenerateRequest>(nameof(Model), $": '{model.Id}' makes samples of [{string.Join(", ", shape)}], larger than the studio's {limits.MaxSampleSide} per side");
        if (model.TextToImage) return CheckTextToImage(model);
        if (Prompt is not null || NegativePrompt is not null)
            throw InvalidInputException.For<GenerateRequest>(Prompt is not null ? nameof(Prompt) : nameof(NegativePrompt),
                $": model '{model.Id}' is a {model.ClassName} without a text encoder; a prompt needs a Stable Diffusion pipeline folder (model_index.json with text_encoder, tokenizer, unet, vae and scheduler)");
        return SampleClasses.Resolve(Class, Count, model.NumClasses, Guidance);
    }

    /// <summary>A text-to-image request: a prompt, no class (as <c>diffuse sample --prompt</c>); one image per seed, no grid row count.</summary>
    private (long[]? Labels, int Count, int? Nrow) CheckTextToImage(ModelInfo model)
    {
        if (Prompt is null)
            throw InvalidInputException.For<GenerateRequest>(nameof(Prompt), $" is required: model '{model.Id}' is a text-to-image pipeline (it samples from a prompt)");
        if (Class is not null) throw InvalidInputException.For<GenerateRequest>(nameof(Class), $": model '{model.Id}' is a text-to-image pipeline; it takes a prompt, not a class");
        foreach (var (name, text) in new[] { (nameof(Prompt), Prompt), (nameof(NegativePrompt), NegativePrompt) })
            if (text is not null && text.Length > MaxPromptLength)
                throw InvalidInputException.For<GenerateRequest>(name, $" is {text.Length} characters long; the studio takes at most {MaxPromptLength}");
        return (null, Count, null);
    }

    /// <summary>
    /// Refuses a prompt or negative prompt longer than the text encoder's rows (<c>diffuse sample</c> cuts it, with a
    /// warning; here the user is asked to shorten it, so that what was typed is what conditions the image).
    /// </summary>
    /// <param name="tokenizer">The pipeline's tokenizer (<c>tokenizer/</c>).</param>
    /// <exception cref="InvalidInputException">A prompt with more tokens than fit (property <see cref="Prompt"/> or <see cref="NegativePrompt"/>).</exception>
    public void CheckPromptTokens(ClipTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        foreach (var (name, text) in new[] { (nameof(Prompt), Prompt), (nameof(NegativePrompt), NegativePrompt) })
        {
            if (text is null) continue;
            int tokens = tokenizer.Encode(text).Count, room = tokenizer.ModelMaxLength - 2;
            if (tokens > room)
                throw InvalidInputException.For<GenerateRequest>(name,
                    $" has {tokens} tokens; the text encoder takes at most {room} ({tokenizer.ModelMaxLength} with the start and end tokens): shorten it");
        }
    }
}
