namespace DiffusionSharp.Imaging;

/// <summary>One panel of a <see cref="Plots"/> figure: a y-axis label and the lines drawn against it.</summary>
/// <param name="YLabel">y-axis label, e.g. "ᾱ_t" or "log SNR".</param>
/// <param name="Series">Lines in this panel; at least one.</param>
/// <param name="YMin">Lower end of the y axis; null fits the data.</param>
/// <param name="YMax">Upper end of the y axis; null fits the data.</param>
public sealed record PlotPanel(string YLabel, IReadOnlyList<PlotSeries> Series, double? YMin = null, double? YMax = null);
