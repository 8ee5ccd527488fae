namespace DiffusionSharp.Samplers;

/// <summary>One sampler of the <see cref="SamplerCatalog"/>.</summary>
/// <param name="Name">The name the CLI and <see cref="IScheduler.Name"/> use (ddpm, dpmpp-2m, ...).</param>
/// <param name="ClassName">diffusers' class, the <c>_class_name</c> of its config; several names may share one class.</param>
/// <param name="Capabilities">What it can do.</param>
/// <param name="FromConfig">
/// The sampler a <c>scheduler_config.json</c> of <paramref name="ClassName"/> describes, every key of the class read with
/// diffusers' defaults (the names of one class share it); the caller checks the class and the keys left over.
/// </param>
/// <param name="Create">
/// This sampler from a training schedule and the options samplers share (<see cref="SamplerBasis"/>), diffusers' defaults
/// for the rest: what choosing a sampler by name builds over any folder's config.
/// </param>
public sealed record SamplerEntry(
    string Name,
    string ClassName,
    SamplerCapabilities Capabilities,
    Func<SchedulerConfigReader, IScheduler> FromConfig,
    Func<SamplerBasis, IScheduler> Create);
