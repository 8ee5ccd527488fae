using System.ComponentModel;
using System.Globalization;
using DiffusionSharp.Samplers;

namespace DiffusionSharp.Cli;

/// <summary>
/// An option's help text that lists samplers of the <see cref="SamplerCatalog"/>: <c>{0}</c> in the text becomes the names
/// of the samplers that have <see cref="Which"/>, so the help follows the catalog.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SamplerListDescriptionAttribute(string text, SamplerList which = SamplerList.All) : DescriptionAttribute
{
    /// <summary>Which samplers the text lists.</summary>
    public SamplerList Which { get; } = which;

    /// <inheritdoc />
    public override string Description => string.Format(CultureInfo.InvariantCulture, text, string.Join(", ", Which switch
    {
        SamplerList.KarrasSigmas => SamplerCatalog.NamesWhere(c => c.HasKarrasSigmas),
        SamplerList.CanEdit => SamplerCatalog.NamesWhere(c => c.CanEdit),
        _ => SamplerCatalog.Names,
    }));
}

/// <summary>The samplers a <see cref="SamplerListDescriptionAttribute"/> lists.</summary>
internal enum SamplerList
{
    /// <summary>Every sampler.</summary>
    All,

    /// <summary>Those with Karras noise levels.</summary>
    KarrasSigmas,

    /// <summary>Those that can edit.</summary>
    CanEdit,
}
