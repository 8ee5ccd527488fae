namespace DiffusionSharp.Samplers;

/// <summary>
/// What a sampler can do: the catalog lists it per sampler name (<see cref="SamplerEntry.Capabilities"/>), and a built
/// sampler reports its own (<see cref="IScheduler.Capabilities"/>). Editing, the CLI's checks and help text, and the
/// contract tests read it; the defaults are those of most samplers.
/// </summary>
public sealed record SamplerCapabilities
{
    // shared, so that capabilities that list the defaults are equal records
    private static readonly PredictionType[] AllPredictionTypes = [PredictionType.Epsilon, PredictionType.Sample, PredictionType.VPrediction];
    private static readonly FormulationKind[] DdpmOnly = [FormulationKind.Ddpm];

    /// <summary>
    /// diffusers' <c>order</c>: entries of <see cref="IScheduler.Timesteps"/> per sampler step, 2 for Heun (each step but
    /// the first calls the model twice), else 1. A run that skips the first k steps starts at <c>Timesteps[k·Order]</c>.
    /// </summary>
    public int Order { get; init; } = 1;

    /// <summary>Whether <see cref="IScheduler.Step"/> adds fresh noise (it then needs a generator or the variance noise).</summary>
    public bool Stochastic { get; init; }

    /// <summary>Why the sampler cannot edit (image-to-image, inpainting); null when it can.</summary>
    public string? CannotEditReason { get; init; }

    /// <summary>Whether the sampler can start in the middle of its schedule and keep an inpainting mask (<see cref="CannotEditReason"/> is null).</summary>
    public bool CanEdit => CannotEditReason is null;

    /// <summary>
    /// RePaint's resampling: a step can be undone by the forward jump q(x_t | x_{t'}) over the integer timesteps t → t'
    /// it spans (DDPM, DDIM).
    /// </summary>
    public bool CanResample { get; init; }

    /// <summary>Whether it takes Karras et al. 2022 noise levels (diffusers' <c>use_karras_sigmas</c>).</summary>
    public bool HasKarrasSigmas { get; init; }

    /// <summary>Whether it takes DDIM's noise scale eta.</summary>
    public bool TakesEta { get; init; }

    /// <summary>The model outputs it can sample from.</summary>
    public IReadOnlyList<PredictionType> PredictionTypes { get; init; } = AllPredictionTypes;

    /// <summary>
    /// The training formulations whose models it samples (<see cref="SamplerCatalog.Create"/> refuses the others). A
    /// sampler's own config class belongs to the first.
    /// </summary>
    public IReadOnlyList<FormulationKind> Formulations { get; init; } = DdpmOnly;

    /// <summary>Whether it takes a timestep spacing (diffusers' <c>timestep_spacing</c>): the DDPM-family samplers do.</summary>
    public bool HasTimestepSpacing => Formulations.Contains(FormulationKind.Ddpm);
}
