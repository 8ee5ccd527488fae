using DiffusionSharp.Cli;

namespace DiffusionSharp.Tests.Cli;

/// <summary>The library names options by their properties; the CLI prints its flags instead.</summary>
public sealed class CliNamesTests
{
    [Fact]
    public void Should_replace_the_first_occurrence_of_each_listed_option_by_its_flag()
    {
        // Given a library error that names two options, one of them a word that recurs in the message
        var e = new InvalidInputException("Resample needs mask: resampling harmonises the mask with the rest", "Resample", "mask");

        // When the CLI renders it
        string message = CliNames.Message(e);

        // Then each listed name's first whole-word occurrence is a flag; other words, and later uses, stay
        Assert.Equal("--resample needs --mask: resampling harmonises the mask with the rest", message);
    }

    [Fact]
    public void Should_leave_unlisted_and_unmapped_names_alone()
    {
        Assert.Equal("Steps must be at least 1", CliNames.Message(new InvalidInputException("Steps must be at least 1")));
        Assert.Equal("NoSuchOption: x", CliNames.Message(new InvalidInputException("NoSuchOption: x", "NoSuchOption")));
        Assert.Equal("--sampler: unknown sampler 'euler-x'",
            CliNames.Message(new InvalidInputException("SamplerName: unknown sampler 'euler-x'", "SamplerName")));
    }

    [Fact]
    public void Should_keep_the_option_names_of_a_wrapped_error()
    {
        var inner = new InvalidInputException("Eta must lie in [0, 1] (got 2)", "Eta");
        var outer = new InvalidInputException("model/scheduler_config.json: " + inner.Message, inner);

        Assert.Equal(["Eta"], outer.OptionNames);
        Assert.Equal("model/scheduler_config.json: --eta must lie in [0, 1] (got 2)", CliNames.Message(outer));
    }
}
