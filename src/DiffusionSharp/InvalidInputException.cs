using System.Text.RegularExpressions;

namespace DiffusionSharp;

/// <summary>
/// Bad input from the user: a file that is missing, malformed or unsupported, or an option out of range.
/// The message is one line that names the file or option and says what was expected and what was found.
/// The CLI prints it without a stack trace and exits with code 2.
/// </summary>
/// <remarks>
/// The library speaks no command line: an error about an option names the option's property (e.g. <c>Steps must be at
/// least 1 (got 0)</c>) and carries it in <see cref="Property"/> as <c>Type.Member</c>; the CLI maps that property to the
/// flag a user typed and puts the flag in place of the message's leading property name. A message that names further
/// options lists them too (<see cref="Properties"/>), each named by its member before any other use of that word:
/// <c>new InvalidInputException("Resample needs mask: ...", "EditOptions.Resample", "ImageEditor.mask")</c>.
/// </remarks>
public sealed class InvalidInputException : Exception
{
    public InvalidInputException(string message) : base(message) => Properties = [];

    /// <summary>An error that wraps another; it names the properties the inner <see cref="InvalidInputException"/> names.</summary>
    public InvalidInputException(string message, Exception inner) : base(message, inner) =>
        Properties = (inner as InvalidInputException)?.Properties ?? [];

    /// <summary>An error about the value of <paramref name="property"/>; <paramref name="message"/> starts with the property's member name.</summary>
    /// <param name="message">One line, starting with the member name of <paramref name="property"/>.</param>
    /// <param name="property">The property the value was given for, as <c>Type.Member</c> (e.g. <c>TrainingOptions.Steps</c>); null when none.</param>
    public InvalidInputException(string message, string? property) : base(message) => Properties = property is null ? [] : [property];

    /// <summary>An error about <paramref name="property"/> whose message also names <paramref name="moreProperties"/> (each <c>Type.Member</c>, named by its member).</summary>
    public InvalidInputException(string message, string property, params IReadOnlyList<string> moreProperties) : base(message) =>
        Properties = [property, .. moreProperties];

    /// <summary>The property (<c>Type.Member</c>) whose value was refused, or null.</summary>
    public string? Property => Properties.Count > 0 ? Properties[0] : null;

    /// <summary>Every property the message names, <see cref="Property"/> first (empty when none).</summary>
    public IReadOnlyList<string> Properties { get; }

    /// <summary>The member name the message starts with: the part of <see cref="Property"/> after its last dot.</summary>
    public string? Subject => Property is null ? null : MemberOf(Property);

    /// <summary>The member name of a <c>Type.Member</c> property: the part after its last dot.</summary>
    public static string MemberOf(string property) => property[(property.LastIndexOf('.') + 1)..];

    /// <summary>
    /// The message as a user of a front end (the CLI's flags, the studio's form fields) reads it: for each property the
    /// exception names (<see cref="Properties"/>) that <paramref name="nameOf"/> knows, the first whole-word occurrence
    /// of its member name (for the first, the message's leading name) replaced by the front end's name.
    /// </summary>
    /// <param name="nameOf">The front end's name of a <c>Type.Member</c> property, or null when it has none.</param>
    public string MessageWith(Func<string, string?> nameOf)
    {
        ArgumentNullException.ThrowIfNull(nameOf);
        string message = Message;
        foreach (string property in Properties)
        {
            if (nameOf(property) is not { } name) continue;
            var member = Regex.Match(message, $@"(?<![\w-]){Regex.Escape(MemberOf(property))}(?![\w-])");
            if (member.Success) message = string.Concat(message.AsSpan(0, member.Index), name, message.AsSpan(member.Index + member.Length));
        }
        return message;
    }

    /// <summary>An error about <c>{Type}.{member}</c>: the message is <c>member</c> followed by <paramref name="rest"/>.</summary>
    /// <remarks>A nested type is named with its declaring type (<c>TrainBenchmark.Options.Batch</c>).</remarks>
    public static InvalidInputException For<T>(string member, string rest) =>
        new(member + rest, (typeof(T).DeclaringType is { } outer ? outer.Name + "." : "") + typeof(T).Name + "." + member);
}
