namespace DiffusionSharp.Evaluation;

/// <summary>
/// One row of a classifier's calibration (<see cref="ImageClassifierTrainer.Calibrate"/>,
/// <see cref="SpokenDigitTrainer.Calibrate"/>): the Fréchet distance on its features of a set of known quality against
/// the held-out reference set, and the set's top-1 accuracy when it has true labels.
/// </summary>
/// <param name="Name">Short key (<c>held-out</c>, <c>train</c>, <c>noise</c>, ...).</param>
/// <param name="Description">What the set is, for a table.</param>
/// <param name="Count">Number of items in the set.</param>
/// <param name="Fid">Fréchet distance against the held-out set.</param>
/// <param name="Top1">Fraction classified as their true class, or null for sets without classes (noise).</param>
public sealed record CalibrationEntry(string Name, string Description, int Count, double Fid, double? Top1);
