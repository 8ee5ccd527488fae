namespace DiffusionSharp.Samplers;

/// <summary>
/// Every sampler of this library, one entry per command-line name: its diffusers class, what it can do, and how it is
/// built from a <c>scheduler_config.json</c> of its class or by name over a training schedule.
/// <see cref="SchedulerFactory"/>, the CLI's sampler option (help and checks), editing's list of samplers and the
/// contract tests all read it. Adding a sampler is its file(s) plus one entry here.
/// </summary>
public static class SamplerCatalog
{
    /// <summary>The samplers, in the order the help text lists them.</summary>
    public static IReadOnlyList<SamplerEntry> Entries { get; } =
    [
        new("ddpm", DDPMScheduler.ClassName, new() { Stochastic = true, CanResample = true },
            DDPMScheduler.FromConfig, DDPMScheduler.Create),
        new("ddim", DDIMScheduler.ClassName, new() { CanResample = true, TakesEta = true },
            DDIMScheduler.FromConfig, DDIMScheduler.Create),
        new("dpmpp-2m", DPMSolverMultistepScheduler.ClassName, new() { HasKarrasSigmas = true },
            DPMSolverMultistepScheduler.FromConfig, b => DPMSolverMultistepScheduler.Create(b, 2, DpmSolverAlgorithm.DpmSolverPlusPlus)),
        new("dpmpp-2m-sde", DPMSolverMultistepScheduler.ClassName, new() { HasKarrasSigmas = true, Stochastic = true },
            DPMSolverMultistepScheduler.FromConfig, b => DPMSolverMultistepScheduler.Create(b, 2, DpmSolverAlgorithm.SdeDpmSolverPlusPlus)),
        new("dpmpp-3m", DPMSolverMultistepScheduler.ClassName, new() { HasKarrasSigmas = true },
            DPMSolverMultistepScheduler.FromConfig, b => DPMSolverMultistepScheduler.Create(b, 3, DpmSolverAlgorithm.DpmSolverPlusPlus)),
        new("euler", EulerDiscreteScheduler.ClassName, new() { HasKarrasSigmas = true },
            EulerDiscreteScheduler.FromConfig, EulerDiscreteScheduler.Create),
        new("euler-ancestral", EulerAncestralDiscreteScheduler.ClassName, new() { Stochastic = true },
            EulerAncestralDiscreteScheduler.FromConfig, EulerAncestralDiscreteScheduler.Create),
        new("heun", HeunDiscreteScheduler.ClassName, new() { Order = 2, HasKarrasSigmas = true },
            HeunDiscreteScheduler.FromConfig, HeunDiscreteScheduler.Create),
        new("pndm", PNDMScheduler.ClassName,
            new()
            {
                CannotEditReason = "its Runge-Kutta warm-up cannot start mid-schedule",
                PredictionTypes = [PredictionType.Epsilon, PredictionType.VPrediction],
            },
            PNDMScheduler.FromConfig, PNDMScheduler.Create),
        new("unipc", UniPCMultistepScheduler.ClassName,
            new()
            {
                HasKarrasSigmas = true,
                CannotEditReason = "its corrector rebuilds each sample from the previous one, undoing the kept pixels",
            },
            UniPCMultistepScheduler.FromConfig, UniPCMultistepScheduler.Create),
    ];

    /// <summary>The command-line names, in catalog order.</summary>
    public static IReadOnlyList<string> Names { get; } = Entries.Select(e => e.Name).ToArray();

    /// <summary>The property errors about a sampler name give (<see cref="InvalidInputException.Property"/>).</summary>
    public const string SamplerNameProperty = nameof(SamplerCatalog) + ".samplerName";

    /// <summary>The entry called <paramref name="samplerName"/>, or null.</summary>
    public static SamplerEntry? Find(string samplerName) => Entries.FirstOrDefault(e => e.Name == samplerName);

    /// <summary>The entry called <paramref name="samplerName"/>.</summary>
    /// <exception cref="InvalidInputException">Unknown name; the message starts with <c>samplerName</c> and lists the known ones.</exception>
    public static SamplerEntry Get(string samplerName) => Find(samplerName)
        ?? throw new InvalidInputException($"samplerName: unknown sampler '{samplerName}' (known: {string.Join(", ", Names)})", SamplerNameProperty);

    /// <summary>The first entry of diffusers' class <paramref name="className"/>: what reads a config of that class.</summary>
    /// <exception cref="InvalidInputException">No sampler has that class; the message starts with <c>_class_name</c>.</exception>
    public static SamplerEntry ForClass(string className) => Entries.FirstOrDefault(e => e.ClassName == className)
        ?? throw new InvalidInputException(
            $"_class_name: '{className}' is not supported (supported: {string.Join(", ", Entries.Select(e => e.ClassName).Distinct())})");

    /// <summary>The names of the samplers whose capabilities satisfy <paramref name="has"/>, in catalog order.</summary>
    public static IReadOnlyList<string> NamesWhere(Func<SamplerCapabilities, bool> has) =>
        Entries.Where(e => has(e.Capabilities)).Select(e => e.Name).ToArray();

    /// <summary>Those names as a phrase: "ddim", "ddpm and ddim", "a, b and c".</summary>
    public static string Listed(Func<SamplerCapabilities, bool> has)
    {
        var names = NamesWhere(has);
        return names.Count <= 1 ? string.Join("", names) : $"{string.Join(", ", names.Take(names.Count - 1))} and {names[^1]}";
    }

    /// <summary>The sampler called <paramref name="samplerName"/> over <paramref name="basis"/>.</summary>
    /// <exception cref="InvalidInputException">Unknown name, Karras sigmas or eta it does not take, or an option out of range.</exception>
    public static IScheduler Create(string samplerName, SamplerBasis basis)
    {
        ArgumentNullException.ThrowIfNull(basis);
        var entry = Get(samplerName);
        SamplerOverrides.Check(entry.Name, entry.Capabilities, basis.KarrasSigmas, basis.Eta != 0);
        return entry.Create(basis);
    }
}
