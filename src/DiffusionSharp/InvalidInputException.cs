namespace DiffusionSharp;

/// <summary>
/// Bad input from the user: a file that is missing, malformed or unsupported, or an option out of range.
/// The message is one line that names the file or option and says what was expected and what was found.
/// The CLI prints it without a stack trace and exits with code 2.
/// </summary>
/// <remarks>
/// The library speaks no command line: an error about an option names the option's property (e.g. <c>Steps must be at
/// least 1 (got 0)</c>) and carries it in <see cref="Property"/> as <c>Type.Member</c>; the CLI maps that property to the
/// flag a user typed and puts the flag in place of the message's leading property name.
/// </remarks>
public sealed class InvalidInputException : Exception
{
    public InvalidInputException(string message) : base(message) { }

    public InvalidInputException(string message, Exception inner) : base(message, inner) { }

    /// <summary>An error about the value of <paramref name="property"/>; <paramref name="message"/> starts with the property's member name.</summary>
    /// <param name="message">One line, starting with the member name of <paramref name="property"/>.</param>
    /// <param name="property">The property the value was given for, as <c>Type.Member</c> (e.g. <c>TrainingOptions.Steps</c>); null when none.</param>
    public InvalidInputException(string message, string? property) : base(message) => Property = property;

    /// <summary>The property (<c>Type.Member</c>) whose value was refused, or null.</summary>
    public string? Property { get; }

    /// <summary>The member name the message starts with: the part of <see cref="Property"/> after its last dot.</summary>
    public string? Subject => Property is null ? null : Property[(Property.LastIndexOf('.') + 1)..];

    /// <summary>An error about <c>{Type}.{member}</c>: the message is <c>member</c> followed by <paramref name="rest"/>.</summary>
    /// <remarks>A nested type is named with its declaring type (<c>TrainBenchmark.Options.Batch</c>).</remarks>
    public static InvalidInputException For<T>(string member, string rest) =>
        new(member + rest, (typeof(T).DeclaringType is { } outer ? outer.Name + "." : "") + typeof(T).Name + "." + member);
}
