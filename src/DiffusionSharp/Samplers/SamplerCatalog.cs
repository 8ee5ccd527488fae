namespace DiffusionSharp.Samplers;

/// <summary>
/// Every sampler of this library, one entry per command-line name: its diffusers class, what it can do, and how it is
/// built from a <c>scheduler_config.json</c> of its class or by name over a training schedule.
/// <see cref="SchedulerFactory"/>, the CLI's sampler option (help and checks), editing's list of samplers and the
/// contract tests all read it. Adding a sampler is its file(s) plus one entry here.
/// </summary>
public static class SamplerCatalog
{
    // shared, so that the capabilities of the samplers of one formulation compare equal where they agree
    private static readonly SamplerCapabilities FlowMatching = new()
    {
        PredictionTypes = [PredictionType.FlowPrediction], Formulations = [FormulationKind.Flow],
    };

    private static readonly SamplerCapabilities Edm = new()
    {
        PredictionTypes = [PredictionType.Epsilon, PredictionType.VPrediction], Formulations = [FormulationKind.Edm],
        CannotEditReason = "its timesteps, ln(sigma)/4, are negative below sigma = 1, where editing reads a negative timestep as the end of the run",
    };

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
        new("lms", LMSDiscreteScheduler.ClassName, new() { HasKarrasSigmas = true },
            LMSDiscreteScheduler.FromConfig, LMSDiscreteScheduler.Create),
        new("lcm", LCMScheduler.ClassName,
            new()
            {
                Stochastic = true,
                CannotEditReason = "its timesteps come from the grid the model was distilled on, not from the edit's strength",
            },
            LCMScheduler.FromConfig, LCMScheduler.Create),
        new("flow-euler", FlowMatchEulerDiscreteScheduler.ClassName, FlowMatching,
            FlowMatchEulerDiscreteScheduler.FromConfig, FlowMatchEulerDiscreteScheduler.Create),
        new("flow-heun", FlowMatchHeunDiscreteScheduler.ClassName, FlowMatching with { Order = 2 },
            FlowMatchHeunDiscreteScheduler.FromConfig, FlowMatchHeunDiscreteScheduler.Create),
        new("edm-euler", EDMEulerScheduler.ClassName, Edm,
            EDMEulerScheduler.FromConfig, EDMEulerScheduler.Create),
        new("edm-dpmpp-2m", EDMDPMSolverMultistepScheduler.ClassName, Edm,
            EDMDPMSolverMultistepScheduler.FromConfig, b => EDMDPMSolverMultistepScheduler.Create(b, 2, DpmSolverAlgorithm.DpmSolverPlusPlus)),
        new("edm-dpmpp-2m-sde", EDMDPMSolverMultistepScheduler.ClassName, Edm with { Stochastic = true },
            EDMDPMSolverMultistepScheduler.FromConfig, b => EDMDPMSolverMultistepScheduler.Create(b, 2, DpmSolverAlgorithm.SdeDpmSolverPlusPlus)),
        new("edm-dpmpp-3m", EDMDPMSolverMultistepScheduler.ClassName, Edm,
            EDMDPMSolverMultistepScheduler.FromConfig, b => EDMDPMSolverMultistepScheduler.Create(b, 3, DpmSolverAlgorithm.DpmSolverPlusPlus)),
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

    /// <summary>
    /// The formulation whose models a scheduler config of diffusers' class <paramref name="className"/> samples: the first
    /// formulation of the class's sampler; <see cref="FormulationKind.Ddpm"/> for a class not in the catalog (or none).
    /// </summary>
    public static FormulationKind FormulationOf(string? className) =>
        Entries.FirstOrDefault(e => e.ClassName == className)?.Capabilities.Formulations[0] ?? FormulationKind.Ddpm;

    /// <summary>The names of the samplers of <paramref name="formulation"/>'s models, in catalog order.</summary>
    public static IReadOnlyList<string> NamesFor(FormulationKind formulation) => NamesWhere(c => c.Formulations.Contains(formulation));

    /// <summary>
    /// Checks that the sampler <paramref name="entry"/> samples models of <paramref name="formulation"/> that predict
    /// <paramref name="predictionType"/>.
    /// </summary>
    /// <exception cref="InvalidInputException">It does not; the message starts with <c>samplerName</c> and names the samplers that fit.</exception>
    public static void CheckServes(SamplerEntry entry, FormulationKind formulation, PredictionType predictionType)
    {
        if (!entry.Capabilities.Formulations.Contains(formulation))
            throw new InvalidInputException(
                $"samplerName: the {entry.Name} sampler cannot sample a model of the {formulation.ToName()} formulation " +
                $"(samplers for {formulation.ToName()} models: {string.Join(", ", NamesFor(formulation))})", SamplerNameProperty);
        if (!entry.Capabilities.PredictionTypes.Contains(predictionType))
            throw new InvalidInputException(
                $"samplerName: the {entry.Name} sampler cannot sample a model that predicts {predictionType.ToDiffusersName()} " +
                $"(it takes {string.Join(", ", entry.Capabilities.PredictionTypes.Select(p => p.ToDiffusersName()))})", SamplerNameProperty);
    }

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
    /// <exception cref="InvalidInputException">
    /// Unknown name, a sampler of another formulation or prediction type than the basis's, Karras sigmas or eta it does
    /// not take, or an option out of range.
    /// </exception>
    public static IScheduler Create(string samplerName, SamplerBasis basis)
    {
        ArgumentNullException.ThrowIfNull(basis);
        var entry = Get(samplerName);
        CheckServes(entry, basis.Formulation, basis.PredictionType);
        SamplerOverrides.Check(entry.Name, entry.Capabilities, basis.KarrasSigmas, basis.Eta != 0, basis.TimestepSpacing is not null, basis.SingleShift);
        return entry.Create(basis);
    }
}
