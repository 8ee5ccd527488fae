namespace DiffusionSharp;

/// <summary>
/// Bad input from the user: a file that is missing, malformed or unsupported, or an option out of range.
/// The message is one line that names the file or option and says what was expected and what was found.
/// The CLI prints it without a stack trace and exits with code 2.
/// </summary>
/// <remarks>
/// The library speaks no command line: an error about an option names it as the library caller set it, by the property
/// (<c>SamplerName</c>, <c>Steps</c>) or parameter (<c>mask</c>) name, and lists those names in <see cref="OptionNames"/>.
/// A front end maps them to its own names: the CLI rewrites the first whole-word occurrence of each listed name into its
/// flag (<c>SamplerName</c> → <c>--sampler</c>), so a message must name each option before any other use of that word:
/// <code>
/// throw new InvalidInputException($"{nameof(Resample)} needs mask: ...", nameof(Resample), "mask");
/// </code>
/// </remarks>
public sealed class InvalidInputException : Exception
{
    /// <summary>An error that names no option (a file, a config key).</summary>
    public InvalidInputException(string message) : base(message) => OptionNames = [];

    /// <summary>An error about options, which <paramref name="message"/> names as listed in <paramref name="optionNames"/>.</summary>
    /// <param name="message">The one-line message.</param>
    /// <param name="optionNames">The property or parameter names of the options the message names, e.g. <c>SamplerName</c>.</param>
    public InvalidInputException(string message, params IReadOnlyList<string> optionNames) : base(message) => OptionNames = optionNames;

    /// <summary>An error that wraps another; it names the options the inner <see cref="InvalidInputException"/> names.</summary>
    public InvalidInputException(string message, Exception inner) : base(message, inner) =>
        OptionNames = (inner as InvalidInputException)?.OptionNames ?? [];

    /// <summary>The property or parameter names of the options the message names (empty when it names none).</summary>
    public IReadOnlyList<string> OptionNames { get; }
}
