using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Builds samplers, all along one path: a <c>scheduler_config.json</c> is read once by a <see cref="SchedulerConfigReader"/>;
/// without a sampler name, the <see cref="SamplerCatalog"/> entry of its <c>_class_name</c> reads every key of the class;
/// with one, that sampler is built over the config's <see cref="SamplerBasis"/> (diffusers' <c>from_config</c>: keep the
/// training schedule, change the sampler). Either way the keys left over are checked, and the user's
/// <see cref="SamplerOverrides"/> are applied as typed options (<c>record with</c>), never by editing JSON.
/// </summary>
public static class SchedulerFactory
{
    /// <summary>The sampler a config file describes, or the sampler <paramref name="samplerName"/> over its training schedule.</summary>
    /// <exception cref="InvalidInputException">The file is missing or its content is malformed or unsupported; the message starts with the path.</exception>
    public static IScheduler FromConfigFile(string path, string? samplerName = null, SamplerOverrides? overrides = null)
    {
        string json = IO.JsonFile.ReadText(path, "scheduler config");
        return FromConfig(SchedulerConfigReader.Parse(json, path), samplerName, overrides);
    }

    /// <summary>The sampler a config's JSON text describes, or the sampler <paramref name="samplerName"/> over its training schedule.</summary>
    /// <exception cref="InvalidInputException">The content is malformed or unsupported.</exception>
    public static IScheduler FromConfigJson(string json, string? samplerName = null, SamplerOverrides? overrides = null) =>
        FromConfig(SchedulerConfigReader.Parse(json), samplerName, overrides);

    /// <summary>The sampler a config object describes (for example another sampler's <see cref="IScheduler.ToConfigJson"/>).</summary>
    /// <exception cref="InvalidInputException">The content is malformed or unsupported.</exception>
    public static IScheduler FromConfig(JsonObject json, string? samplerName = null, SamplerOverrides? overrides = null) =>
        FromConfig(new SchedulerConfigReader(json), samplerName, overrides);

    /// <summary>
    /// The sampler a config describes, or with <paramref name="samplerName"/> (ddpm, ddim, ...) that sampler over the
    /// config's <see cref="SamplerBasis"/>; keys only the config's own class knows are ignored, as in diffusers'
    /// <c>from_config</c>, and unknown keys are errors. <paramref name="overrides"/> change the result's options.
    /// </summary>
    /// <exception cref="InvalidInputException">The config is malformed or unsupported, the name is unknown, or an override does not fit the sampler.</exception>
    public static IScheduler FromConfig(SchedulerConfigReader config, string? samplerName = null, SamplerOverrides? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        overrides ??= SamplerOverrides.None;
        // errors about the config's content name its source; the name and the overrides are the caller's, not the file's
        if (samplerName is not null)
        {
            var entry = SamplerCatalog.Get(samplerName);
            var basis = config.Build(() =>
            {
                var read = SamplerBasis.FromConfig(config);
                config.RejectUnknownKeys();
                return read;
            });
            return SamplerCatalog.Create(entry.Name, basis.With(overrides));
        }
        var scheduler = config.Build(() =>
        {
            var own = SamplerCatalog.ForClass(config.ClassName ?? throw config.Invalid("_class_name: missing, so the scheduler type is unknown"));
            var read = own.FromConfig(config);
            config.RejectUnknownKeys();
            if (!read.Capabilities.PredictionTypes.Contains(read.PredictionType))
                throw config.Invalid($"prediction_type '{read.PredictionType.ToDiffusersName()}' is not supported by {own.ClassName} " +
                    $"(it takes {string.Join(", ", read.Capabilities.PredictionTypes.Select(p => p.ToDiffusersName()))})");
            return read;
        });
        return overrides.IsEmpty ? scheduler : scheduler.With(overrides);
    }

    /// <summary>
    /// The sampler of a model folder without <c>scheduler_config.json</c>: diffusers' default <c>DDPMScheduler</c> over
    /// <paramref name="schedule"/> (leading spacing), or the sampler <paramref name="samplerName"/> over the same.
    /// </summary>
    /// <exception cref="InvalidInputException">Unknown name, or an override that does not fit the sampler.</exception>
    public static IScheduler FromSchedule(NoiseScheduleConfig schedule, string? samplerName = null, SamplerOverrides? overrides = null) =>
        SamplerCatalog.Create(samplerName ?? "ddpm",
            new SamplerBasis(schedule) { TimestepSpacing = TimestepSpacing.Leading }.With(overrides ?? SamplerOverrides.None));

    /// <summary>
    /// The sampler <paramref name="samplerName"/> over the training schedule and prediction type of
    /// <paramref name="scheduler"/>'s config (diffusers' <c>from_config</c> pattern), e.g. DDIM for a model trained with a
    /// DDPM scheduler; null keeps <paramref name="scheduler"/>'s class. <paramref name="overrides"/> change the result's options.
    /// </summary>
    /// <exception cref="InvalidInputException">Unknown name, or an override that does not fit the sampler.</exception>
    public static IScheduler WithSampler(IScheduler scheduler, string? samplerName, SamplerOverrides? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        overrides ??= SamplerOverrides.None;
        if (samplerName is null) return overrides.IsEmpty ? scheduler : scheduler.With(overrides);
        return FromConfig(scheduler.ToConfigJson(), samplerName, overrides);
    }

    /// <summary>A sampler by command-line name.</summary>
    /// <param name="name">A name of <see cref="SamplerCatalog.Names"/>.</param>
    /// <param name="schedule">The training schedule the model was trained with.</param>
    /// <param name="predictionType">What the model predicts.</param>
    /// <param name="spacing">How inference timesteps are picked.</param>
    /// <param name="stepsOffset">Added to leading timesteps.</param>
    /// <param name="clipSample">Clip the predicted x_0 to [-1, 1] (DDPM and DDIM, for pixel-space models).</param>
    /// <param name="eta">DDIM's noise scale (0 deterministic, 1 DDPM-like); must be 0 for other samplers.</param>
    /// <exception cref="InvalidInputException">Unknown name or an option out of range.</exception>
    public static IScheduler Create(
        string name,
        NoiseScheduleConfig schedule,
        PredictionType predictionType = PredictionType.Epsilon,
        TimestepSpacing spacing = TimestepSpacing.Leading,
        int stepsOffset = 0,
        bool clipSample = true,
        double eta = 0.0) =>
        SamplerCatalog.Create(name, new SamplerBasis(schedule)
        {
            PredictionType = predictionType,
            TimestepSpacing = spacing,
            StepsOffset = stepsOffset,
            Clipping = new SampleClipping(clipSample),
            Eta = eta,
        });

    /// <summary>The config text of a sampler, indented, as diffusers writes <c>scheduler_config.json</c>.</summary>
    public static string ToConfigText(IScheduler scheduler) =>
        scheduler.ToConfigJson().ToJsonString(ConfigTextOptions);

    // indented, and "dpmsolver++" written as such rather than with \u002B escapes
    private static readonly System.Text.Json.JsonSerializerOptions ConfigTextOptions = new()
    {
        WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
