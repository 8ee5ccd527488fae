using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Builds samplers: from a diffusers <c>scheduler_config.json</c> (dispatching on <c>_class_name</c>), from a command-line
/// name, or from another sampler's config (diffusers' <c>from_config</c>: keep the training schedule, change the sampler).
/// New samplers add one case to <see cref="FromConfig(SchedulerConfigReader, string?)"/> and one to <see cref="Create"/>.
/// </summary>
public static class SchedulerFactory
{
    /// <summary>The command-line sampler names and their diffusers classes.</summary>
    public static IReadOnlyDictionary<string, string> ClassNames { get; } = new Dictionary<string, string>
    {
        ["ddpm"] = DDPMScheduler.ClassName,
        ["ddim"] = DDIMScheduler.ClassName,
        ["dpmpp-2m"] = DPMSolverMultistepScheduler.ClassName,
        ["dpmpp-2m-sde"] = DPMSolverMultistepScheduler.ClassName,
        ["dpmpp-3m"] = DPMSolverMultistepScheduler.ClassName,
        ["euler"] = EulerDiscreteScheduler.ClassName,
        ["euler-ancestral"] = EulerAncestralDiscreteScheduler.ClassName,
        ["heun"] = HeunDiscreteScheduler.ClassName,
        ["pndm"] = PNDMScheduler.ClassName,
        ["unipc"] = UniPCMultistepScheduler.ClassName,
    };

    /// <summary>The command-line sampler names.</summary>
    public static IReadOnlyList<string> Names { get; } = ClassNames.Keys.ToArray();

    /// <summary>The sampler a config file describes, or the sampler <paramref name="samplerName"/> over its training schedule.</summary>
    /// <exception cref="InvalidInputException">The file is missing or its content is malformed or unsupported; the message starts with the path.</exception>
    public static IScheduler FromConfigFile(string path, string? samplerName = null)
    {
        string json = IO.JsonFile.ReadText(path, "scheduler config");
        return FromConfig(SchedulerConfigReader.Parse(json, path), samplerName);
    }

    /// <summary>The sampler a config's JSON text describes, or the sampler <paramref name="samplerName"/> over its training schedule.</summary>
    /// <exception cref="InvalidInputException">The content is malformed or unsupported.</exception>
    public static IScheduler FromConfigJson(string json, string? samplerName = null) =>
        FromConfig(SchedulerConfigReader.Parse(json), samplerName);

    /// <summary>
    /// The sampler a config describes. With <paramref name="samplerName"/> (ddpm, ddim, ...), that sampler instead, built
    /// from the keys it shares with the config (the training schedule, prediction type, spacing); keys only the
    /// config's own class knows are ignored, as in diffusers' <c>from_config</c>.
    /// </summary>
    /// <exception cref="InvalidInputException">The config is malformed or unsupported, or the name is unknown.</exception>
    public static IScheduler FromConfig(SchedulerConfigReader config, string? samplerName = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Build(() => Dispatch(config, samplerName));
    }

    private static IScheduler Dispatch(SchedulerConfigReader config, string? samplerName)
    {
        if (samplerName is not null && SamplerRegistry.IsKnown(samplerName))
        {
            // diffusers' from_config for another family: keep the training schedule, prediction type and spacing.
            return SamplerRegistry.Create(samplerName, config.NoiseSchedule(), config.PredictionType(),
                timestepSpacing: config.TimestepSpacing(), stepsOffset: config.StepsOffset());
        }
        string className = samplerName is not null
            ? ClassNameOf(samplerName)
            : config.ClassName ?? throw config.Invalid("_class_name: missing, so the scheduler type is unknown");
        IScheduler scheduler = className switch
        {
            DDPMScheduler.ClassName => DDPMScheduler.FromConfig(config),
            DDIMScheduler.ClassName => DDIMScheduler.FromConfig(config),
            DPMSolverMultistepScheduler.ClassName => DPMSolverMultistepScheduler.FromConfigJson(config.Json, config.Source),
            EulerDiscreteScheduler.ClassName => EulerDiscreteScheduler.FromConfigJson(config.Json, config.Source),
            EulerAncestralDiscreteScheduler.ClassName => EulerAncestralDiscreteScheduler.FromConfigJson(config.Json, config.Source),
            HeunDiscreteScheduler.ClassName => HeunDiscreteScheduler.FromConfigJson(config.Json, config.Source),
            PNDMScheduler.ClassName => PNDMScheduler.FromConfigJson(config.Json, config.Source),
            UniPCMultistepScheduler.ClassName => UniPCMultistepScheduler.FromConfigJson(config.Json, config.Source),
            _ => throw config.Invalid(
                $"_class_name: '{className}' is not supported (supported: {string.Join(", ", ClassNames.Values.Distinct())})"),
        };
        if (className is DDPMScheduler.ClassName or DDIMScheduler.ClassName) config.RejectUnknownKeys();
        return scheduler;
    }

    /// <summary>
    /// Another sampler over the same training schedule and prediction type (diffusers' <c>from_config</c> pattern),
    /// e.g. DDIM for a model trained with a DDPM scheduler.
    /// </summary>
    public static IScheduler WithSampler(IScheduler scheduler, string samplerName) =>
        FromConfig(new SchedulerConfigReader(scheduler.ToConfigJson()), samplerName);

    /// <summary>
    /// The same sampler with some of its config keys changed (diffusers' <c>from_config(config, use_karras_sigmas=True)</c>
    /// pattern): the config is written, edited and read back, so every other option is kept.
    /// </summary>
    /// <param name="scheduler">The sampler to change.</param>
    /// <param name="karrasSigmas">Turn on Karras et al. 2022 noise levels (only samplers whose config has <c>use_karras_sigmas</c>).</param>
    /// <param name="spacing">A new <c>timestep_spacing</c>; null keeps the sampler's own.</param>
    /// <exception cref="InvalidInputException">The sampler has no Karras option; the message names <c>--karras</c> and the samplers that have it.</exception>
    public static IScheduler WithOverrides(IScheduler scheduler, bool karrasSigmas = false, TimestepSpacing? spacing = null)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        if (!karrasSigmas && spacing is null) return scheduler;
        var json = scheduler.ToConfigJson();
        if (karrasSigmas)
        {
            if (!json.ContainsKey("use_karras_sigmas"))
                throw new InvalidInputException($"--karras: the {scheduler.Name} sampler has no Karras noise levels (samplers that have: {string.Join(", ", KarrasSamplers)})");
            json["use_karras_sigmas"] = true;
        }
        if (spacing is { } chosen) json["timestep_spacing"] = chosen.ToDiffusersName();
        return FromConfig(new SchedulerConfigReader(json));
    }

    /// <summary>The command-line samplers that take <c>use_karras_sigmas</c>.</summary>
    public static IReadOnlyList<string> KarrasSamplers =>
        SamplerRegistry.Known.Where(n => SamplerRegistry.Create(n, new NoiseScheduleConfig()).ToConfigJson().ContainsKey("use_karras_sigmas")).ToArray();

    /// <summary>A sampler by command-line name.</summary>
    /// <param name="name">ddpm, ddim, or a name of <see cref="SamplerRegistry.Known"/>.</param>
    /// <param name="schedule">The training schedule the model was trained with.</param>
    /// <param name="predictionType">What the model predicts.</param>
    /// <param name="spacing">How inference timesteps are picked.</param>
    /// <param name="stepsOffset">Added to leading timesteps.</param>
    /// <param name="clipSample">Clip the predicted x_0 to [-1, 1] (pixel-space models).</param>
    /// <param name="eta">DDIM's noise scale (0 deterministic, 1 DDPM-like); must be 0 for other samplers.</param>
    /// <exception cref="InvalidInputException">Unknown name or an option out of range.</exception>
    public static IScheduler Create(
        string name,
        NoiseScheduleConfig schedule,
        PredictionType predictionType = PredictionType.Epsilon,
        TimestepSpacing spacing = TimestepSpacing.Leading,
        int stepsOffset = 0,
        bool clipSample = true,
        double eta = 0.0)
    {
        string className = ClassNameOf(name);
        if (eta != 0 && className != DDIMScheduler.ClassName)
            throw new InvalidInputException($"eta: only the ddim sampler takes eta (got {eta} for {name})");
        if (SamplerRegistry.IsKnown(name))
            return SamplerRegistry.Create(name, schedule, predictionType, timestepSpacing: spacing, stepsOffset: stepsOffset);
        var table = NoiseSchedule.Create(schedule);
        var clipping = new SampleClipping(clipSample);
        return className switch
        {
            DDPMScheduler.ClassName => new DDPMScheduler(table, new DDPMSchedulerOptions
            {
                PredictionType = predictionType, Clipping = clipping, TimestepSpacing = spacing, StepsOffset = stepsOffset,
            }),
            DDIMScheduler.ClassName => new DDIMScheduler(table, new DDIMSchedulerOptions
            {
                PredictionType = predictionType, Clipping = clipping, TimestepSpacing = spacing, StepsOffset = stepsOffset, Eta = eta,
            }),
            var other => throw new InvalidOperationException($"{other} is in ClassNames but has no case in Create"),
        };
    }

    /// <summary>diffusers' class name of a command-line sampler name.</summary>
    /// <exception cref="InvalidInputException">Unknown name.</exception>
    public static string ClassNameOf(string samplerName) => ClassNames.TryGetValue(samplerName, out var className)
        ? className
        : throw new InvalidInputException($"sampler: unknown sampler '{samplerName}' (expected one of: {string.Join(", ", Names)})");

    /// <summary>The config text of a sampler, indented, as diffusers writes <c>scheduler_config.json</c>.</summary>
    public static string ToConfigText(IScheduler scheduler) =>
        scheduler.ToConfigJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
}
