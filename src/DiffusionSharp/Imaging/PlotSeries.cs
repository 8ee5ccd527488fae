namespace DiffusionSharp.Imaging;

/// <summary>One line of a <see cref="Plots"/> panel: y values against x values of the same length.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Xs">x values (e.g. timesteps t or training steps).</param>
/// <param name="Ys">y values; non-finite values leave a gap.</param>
public sealed record PlotSeries(string Label, IReadOnlyList<double> Xs, IReadOnlyList<double> Ys);
