namespace DiffusionSharp.Models;

/// <summary>How far a model's output is from a reference output (see <see cref="ModelCheck"/>).</summary>
/// <param name="MaxAbsError">max |output - reference|.</param>
/// <param name="MaxRelError">MaxAbsError / max |reference| (relative to the reference's scale, not per element).</param>
/// <param name="MaxAbsReference">max |reference|.</param>
/// <param name="IntermediateMaxAbsErrors">
/// For each <c>intermediate.&lt;module&gt;</c> tensor in the reference file, the max abs error of that module's output
/// (keys without the prefix, e.g. <c>down_blocks.1</c>); empty when the file has none. Use it to localise a mismatch.
/// </param>
public sealed record ModelCheckResult(double MaxAbsError, double MaxRelError, double MaxAbsReference, IReadOnlyDictionary<string, double> IntermediateMaxAbsErrors);
