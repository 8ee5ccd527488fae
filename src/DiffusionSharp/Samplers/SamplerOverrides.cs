using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Inference options a user changes on a sampler, keeping every other option (diffusers'
/// <c>from_config(config, use_karras_sigmas=True)</c>); <see cref="IScheduler.With"/> applies them with
/// <c>Options with { … }</c>. Null and false keep the sampler's own value.
/// </summary>
public sealed record SamplerOverrides
{
    /// <summary>No change.</summary>
    public static SamplerOverrides None { get; } = new();

    /// <summary>Turn on Karras et al. 2022 noise levels (samplers whose capabilities have them).</summary>
    public bool KarrasSigmas { get; init; }

    /// <summary>A new inference timestep spacing.</summary>
    public TimestepSpacing? TimestepSpacing { get; init; }

    /// <summary>DDIM's noise scale eta (samplers that take it).</summary>
    public double? Eta { get; init; }

    /// <summary>
    /// Apply the flow shift once, σ' = s·σ/(1 + (s - 1)·σ), instead of diffusers 0.30.3's twice (diffusers issue #13243);
    /// flow-matching samplers only.
    /// </summary>
    public bool SingleShift { get; init; }

    /// <summary>Karras sigmas after these overrides, for a sampler that has them (<paramref name="current"/>).</summary>
    public bool KarrasSigmasOr(bool current) => current || KarrasSigmas;

    /// <summary>The spacing after these overrides, for a sampler whose spacing is <paramref name="current"/>.</summary>
    public TimestepSpacing TimestepSpacingOr(TimestepSpacing current) => TimestepSpacing ?? current;

    /// <summary>Whether nothing is changed.</summary>
    public bool IsEmpty => Equals(None);

    /// <summary>Checks that the sampler called <paramref name="samplerName"/> has what these overrides set.</summary>
    /// <exception cref="InvalidInputException">Karras sigmas, eta or a spacing for a sampler without them; the message starts with the property and names the samplers that have it.</exception>
    public void CheckFor(string samplerName, SamplerCapabilities capabilities) =>
        Check(samplerName, capabilities, KarrasSigmas, Eta is { } eta && eta != 0, TimestepSpacing is not null, SingleShift);

    /// <summary>The check of <see cref="CheckFor"/> for Karras sigmas, a non-zero eta and a spacing.</summary>
    internal static void Check(string samplerName, SamplerCapabilities capabilities, bool karrasSigmas, bool eta, bool spacing, bool singleShift = false)
    {
        if (singleShift && !capabilities.Formulations.Contains(FormulationKind.Flow))
            throw InvalidInputException.For<SamplerOverrides>(nameof(SingleShift),
                $": the {samplerName} sampler has no flow shift (samplers that have: {string.Join(", ", SamplerCatalog.NamesFor(FormulationKind.Flow))})");
        if (spacing && !capabilities.HasTimestepSpacing)
            throw InvalidInputException.For<SamplerOverrides>(nameof(TimestepSpacing),
                $": the {samplerName} sampler has no timestep spacing (its noise levels are its own; samplers that have: {string.Join(", ", SamplerCatalog.NamesWhere(c => c.HasTimestepSpacing))})");
        if (karrasSigmas && !capabilities.HasKarrasSigmas)
            throw InvalidInputException.For<SamplerOverrides>(nameof(KarrasSigmas),
                $": the {samplerName} sampler has no Karras noise levels (samplers that have: {string.Join(", ", SamplerCatalog.NamesWhere(c => c.HasKarrasSigmas))})");
        if (eta && !capabilities.TakesEta)
            throw new InvalidInputException(
                $"{nameof(Eta)}: only the {SamplerCatalog.Listed(c => c.TakesEta)} sampler takes eta (got samplerName {samplerName})",
                $"{nameof(SamplerOverrides)}.{nameof(Eta)}", SamplerCatalog.SamplerNameProperty);
    }
}
