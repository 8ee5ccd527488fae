namespace DiffusionSharp;

/// <summary>
/// Bad input from the user: a file that is missing, malformed or unsupported, or an option out of range.
/// The message is one line that names the file or option and says what was expected and what was found.
/// The CLI prints it without a stack trace and exits with code 2.
/// </summary>
public sealed class InvalidInputException : Exception
{
    public InvalidInputException(string message) : base(message) { }

    public InvalidInputException(string message, Exception inner) : base(message, inner) { }
}
