namespace DiffusionSharp.Text;

/// <summary>How a tokenizer did on a reference list of strings (see <see cref="ClipTokenizerCheck"/>).</summary>
/// <param name="Entries">Number of strings checked.</param>
/// <param name="Mismatches">One line per string whose ids (or padded row) differ, naming the entry; empty when all match.</param>
public sealed record ClipTokenizerCheckResult(int Entries, IReadOnlyList<string> Mismatches);
