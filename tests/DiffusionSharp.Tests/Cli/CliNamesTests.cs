using DiffusionSharp.Cli;

namespace DiffusionSharp.Tests.Cli;

/// <summary>The library names options by their properties (<c>Type.Member</c>); the CLI prints its flags instead.</summary>
public sealed class CliNamesTests
{
    [Fact]
    public void Should_replace_the_first_occurrence_of_each_named_property_by_its_flag()
    {
        // Given a library error about one property whose message names a second one, a word that recurs in the message
        var e = new InvalidInputException("Resample needs mask: resampling harmonises the mask with the rest", "EditOptions.Resample", "ImageEditor.mask");

        // When the CLI renders it
        string message = CliNames.ForUser(e);

        // Then each property's first whole-word occurrence is a flag; other words, and later uses, stay
        Assert.Equal("--resample needs --mask: resampling harmonises the mask with the rest", message);
        Assert.Equal("EditOptions.Resample", e.Property);
        Assert.Equal("Resample", e.Subject);
    }

    [Fact]
    public void Should_leave_errors_without_a_mapped_property_alone()
    {
        Assert.Equal("Steps must be at least 1", CliNames.ForUser(new InvalidInputException("Steps must be at least 1")));
        Assert.Equal("NoSuchOption: x", CliNames.ForUser(new InvalidInputException("NoSuchOption: x", "Nowhere.NoSuchOption")));
        Assert.Equal("--strength must lie in (0, 1] (got 2)",
            CliNames.ForUser(InvalidInputException.For<DiffusionSharp.Pipelines.EditOptions>("Strength", " must lie in (0, 1] (got 2)")));
    }

    [Fact]
    public void Should_keep_the_properties_of_a_wrapped_error()
    {
        var inner = InvalidInputException.For<DiffusionSharp.Samplers.DDIMSchedulerOptions>("Eta", " must lie in [0, 1] (got 2)");
        var outer = new InvalidInputException("model/scheduler_config.json: " + inner.Message, inner);

        Assert.Equal(["DDIMSchedulerOptions.Eta"], outer.Properties);
        Assert.Equal("model/scheduler_config.json: --eta must lie in [0, 1] (got 2)", CliNames.ForUser(outer));
    }
}
