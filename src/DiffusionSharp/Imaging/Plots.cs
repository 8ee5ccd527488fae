using ScottPlot;
using SkiaSharp;

namespace DiffusionSharp.Imaging;

/// <summary>
/// Line charts rendered with ScottPlot 5 to PNG: any series against t in stacked panels that share the x axis, the
/// noise schedule (ᾱ_t and log-SNR against t), the training loss curve with a smoothed line and a grid of generated series. Files are written
/// atomically. Like the pictures, axis text needs a font (see <see cref="Filmstrip.CanDrawText"/>).
/// </summary>
public static class Plots
{
    /// <summary>Default figure width in pixels.</summary>
    public const int DefaultWidth = 800;

    /// <summary>Default height of one panel in pixels.</summary>
    public const int DefaultPanelHeight = 340;

    /// <summary>PNG of <paramref name="panels"/> stacked top to bottom, sharing <paramref name="xLabel"/> (shown under the last).</summary>
    /// <param name="panels">At least one panel.</param>
    /// <param name="xLabel">x-axis label, e.g. "timestep t".</param>
    /// <param name="title">Optional title over the first panel.</param>
    /// <param name="width">Figure width in pixels.</param>
    /// <param name="panelHeight">Height of each panel in pixels.</param>
    public static byte[] Lines(IReadOnlyList<PlotPanel> panels, string xLabel, string? title = null,
        int width = DefaultWidth, int panelHeight = DefaultPanelHeight)
    {
        ArgumentNullException.ThrowIfNull(panels);
        if (panels.Count == 0) throw new ArgumentException("expected at least one panel", nameof(panels));
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(panelHeight, 100);

        using var surface = SKSurface.Create(new SKImageInfo(width, panelHeight * panels.Count, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException("SkiaSharp could not create a drawing surface");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        for (var i = 0; i < panels.Count; i++)
        {
            var plot = NewPlot();
            var palette = new ScottPlot.Palettes.Category10();
            var series = panels[i].Series;
            if (series.Count == 0) throw new ArgumentException($"panel {i} has no series", nameof(panels));
            for (var s = 0; s < series.Count; s++) AddLine(plot, series[s], palette.GetColor(s), 2);
            plot.YLabel(panels[i].YLabel);
            if (panels[i].YMin is not null || panels[i].YMax is not null)
            {
                plot.Axes.AutoScale();
                var limits = plot.Axes.GetDataLimits();
                var (low, high) = (panels[i].YMin ?? limits.Bottom, panels[i].YMax ?? limits.Top);
                var margin = Math.Max((high - low) * 0.05, 1e-12);
                plot.Axes.SetLimitsY(panels[i].YMin ?? low - margin, panels[i].YMax ?? high + margin);
            }
            if (i == panels.Count - 1) plot.XLabel(xLabel);
            if (i == 0 && !string.IsNullOrEmpty(title)) plot.Title(title);
            if (series.Count > 1 || !string.IsNullOrEmpty(series[0].Label)) plot.ShowLegend(Alignment.UpperRight);
            Draw(plot, canvas, 0, i * panelHeight, width, panelHeight);
        }
        return Encode(surface);
    }

    /// <summary>
    /// PNG of noise schedules: ᾱ_t (top) and log-SNR = ln(ᾱ_t / (1 − ᾱ_t)) (bottom) against t, one line per schedule.
    /// </summary>
    /// <param name="schedules">Name and ᾱ_t for t = 0..T−1 of each schedule.</param>
    /// <param name="title">Optional title.</param>
    public static byte[] Schedules(IReadOnlyList<(string Name, IReadOnlyList<double> AlphasCumprod)> schedules, string? title = "Noise schedule")
    {
        ArgumentNullException.ThrowIfNull(schedules);
        if (schedules.Count == 0) throw new ArgumentException("expected at least one schedule", nameof(schedules));
        var alphaBar = new List<PlotSeries>();
        var logSnr = new List<PlotSeries>();
        foreach (var (name, ab) in schedules)
        {
            var t = Enumerable.Range(0, ab.Count).Select(i => (double)i).ToArray();
            alphaBar.Add(new PlotSeries(name, t, ab));
            logSnr.Add(new PlotSeries(name, t, ab.Select(a => Math.Log(a / (1 - a))).ToArray()));
        }

        // A schedule whose last ᾱ_t is ~0 (cosine) plunges to log-SNR -70 in its final steps; cut the axis just below
        // the 1st percentile so that plunge does not flatten every other curve.
        var all = logSnr.SelectMany(s => s.Ys).Where(double.IsFinite).Order().ToArray();
        double? yMin = null;
        if (all.Length > 0)
        {
            var p1 = all[(int)(0.01 * (all.Length - 1))];
            var span = all[^1] - p1;
            if (all[0] < p1 - 0.25 * span) yMin = p1 - 0.1 * span;
        }
        return Lines([new PlotPanel("ᾱ_t (signal fraction)", alphaBar), new PlotPanel("log SNR = ln(ᾱ_t / (1 − ᾱ_t))", logSnr, yMin)],
            "timestep t", title);
    }

    /// <summary>Writes <see cref="Schedules"/> to <paramref name="path"/> atomically.</summary>
    public static void SaveSchedules(string path, IReadOnlyList<(string Name, IReadOnlyList<double> AlphasCumprod)> schedules, string? title = "Noise schedule") =>
        SkiaImages.WriteAtomically(path, Schedules(schedules, title));

    /// <summary>Writes <see cref="Lines"/> to <paramref name="path"/> atomically.</summary>
    public static void SaveLines(string path, IReadOnlyList<PlotPanel> panels, string xLabel, string? title = null,
        int width = DefaultWidth, int panelHeight = DefaultPanelHeight) =>
        SkiaImages.WriteAtomically(path, Lines(panels, xLabel, title, width, panelHeight));

    /// <summary>
    /// PNG of the training loss against step: the raw values as a thin light line and an exponential moving average
    /// (bias-corrected, TensorBoard-style) as a bold line. The y range follows the smoothed line, so early spikes do not
    /// flatten the rest of the curve.
    /// </summary>
    /// <param name="steps">Training step of each value.</param>
    /// <param name="losses">Loss values, same length.</param>
    /// <param name="smoothing">EMA weight in [0, 1); default grows with the number of points (1 − 10/n, between 0 and 0.95).</param>
    /// <param name="title">Optional title.</param>
    public static byte[] LossCurve(IReadOnlyList<double> steps, IReadOnlyList<double> losses, double? smoothing = null, string? title = "Training loss")
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(losses);
        if (steps.Count != losses.Count) throw new ArgumentException($"expected {steps.Count} losses, one per step, found {losses.Count}", nameof(losses));
        if (losses.Count == 0) throw new ArgumentException("expected at least one loss value", nameof(losses));
        var weight = smoothing ?? Math.Clamp(1 - 10.0 / losses.Count, 0, 0.95);
        if (weight is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "expected a weight in [0, 1)");
        var smoothed = Smooth(losses, weight);

        var plot = NewPlot();
        var palette = new ScottPlot.Palettes.Category10();
        AddLine(plot, new PlotSeries("loss", steps, losses), palette.GetColor(0).WithAlpha(0.35), 1);
        AddLine(plot, new PlotSeries($"EMA {weight:0.###}", steps, smoothed), palette.GetColor(0), 2.5f);
        plot.XLabel("step");
        plot.YLabel("loss");
        if (!string.IsNullOrEmpty(title)) plot.Title(title);
        plot.ShowLegend(Alignment.UpperRight);

        var finite = smoothed.Where(double.IsFinite).ToArray();
        var rawFinite = losses.Where(double.IsFinite).ToArray();
        if (finite.Length > 0 && rawFinite.Length > 0)
        {
            var low = Math.Min(finite.Min(), rawFinite.Min());
            var high = finite.Max();
            var margin = Math.Max((high - low) * 0.08, 1e-12);
            plot.Axes.SetLimitsY(low - margin, high + margin);
        }

        using var surface = SKSurface.Create(new SKImageInfo(DefaultWidth, 450, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException("SkiaSharp could not create a drawing surface");
        surface.Canvas.Clear(SKColors.White);
        Draw(plot, surface.Canvas, 0, 0, DefaultWidth, 450);
        return Encode(surface);
    }

    /// <summary>Writes <see cref="LossCurve"/> to <paramref name="path"/> atomically.</summary>
    public static void SaveLossCurve(string path, IReadOnlyList<double> steps, IReadOnlyList<double> losses, double? smoothing = null, string? title = "Training loss") =>
        SkiaImages.WriteAtomically(path, LossCurve(steps, losses, smoothing, title));

    /// <summary>Pixel size of one cell of <see cref="SeriesGrid"/>.</summary>
    public const int SeriesCellWidth = 320, SeriesCellHeight = 180;

    /// <summary>
    /// PNG of series as small line plots in a grid, one cell per series (value against time step, titled <c>#1</c>, <c>#2</c>, ...),
    /// all on one y range so their levels compare; the picture of generated time series.
    /// </summary>
    /// <param name="series">At least one series, each with at least one value, in the data's units.</param>
    /// <param name="columns">Cells per row; null = about the square root of the count.</param>
    /// <param name="yLabel">The y-axis label of the first column's cells.</param>
    public static byte[] SeriesGrid(IReadOnlyList<float[]> series, int? columns = null, string yLabel = "value")
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0 || series.Any(s => s.Length == 0)) throw new ArgumentException("expected at least one series, each with values", nameof(series));
        var cols = Math.Clamp(columns ?? (int)Math.Ceiling(Math.Sqrt(series.Count)), 1, series.Count);
        var rows = (series.Count + cols - 1) / cols;
        var finite = series.SelectMany(s => s).Where(float.IsFinite).DefaultIfEmpty(0).ToArray();
        var (low, high) = ((double)finite.Min(), (double)finite.Max());
        var margin = Math.Max((high - low) * 0.05, 1e-6);
        using var surface = SKSurface.Create(new SKImageInfo(cols * SeriesCellWidth, rows * SeriesCellHeight, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException("SkiaSharp could not create a drawing surface");
        surface.Canvas.Clear(SKColors.White);
        var color = new ScottPlot.Palettes.Category10().GetColor(0);
        for (var i = 0; i < series.Count; i++)
        {
            var plot = NewPlot();
            var xs = Enumerable.Range(0, series[i].Length).Select(x => (double)x).ToArray();
            AddLine(plot, new PlotSeries("", xs, series[i].Select(v => (double)v).ToArray()), color, 1.5f);
            plot.Axes.SetLimitsY(low - margin, high + margin);
            plot.Title($"#{i + 1}", size: 12);
            if (i % cols == 0) plot.YLabel(yLabel, size: 12);
            Draw(plot, surface.Canvas, i % cols * SeriesCellWidth, i / cols * SeriesCellHeight, SeriesCellWidth, SeriesCellHeight);
        }
        return Encode(surface);
    }

    /// <summary>Writes <see cref="SeriesGrid"/> to <paramref name="path"/> atomically.</summary>
    public static void SaveSeriesGrid(string path, IReadOnlyList<float[]> series, int? columns = null, string yLabel = "value") =>
        SkiaImages.WriteAtomically(path, SeriesGrid(series, columns, yLabel));

    /// <summary>Bias-corrected exponential moving average: s_i = w·s_{i−1} + (1 − w)·x_i, divided by 1 − w^(i+1). Non-finite values are passed over.</summary>
    public static double[] Smooth(IReadOnlyList<double> values, double weight)
    {
        ArgumentNullException.ThrowIfNull(values);
        var result = new double[values.Count];
        double average = 0, correction = 1;
        for (var i = 0; i < values.Count; i++)
        {
            if (double.IsFinite(values[i]))
            {
                average = weight * average + (1 - weight) * values[i];
                correction *= weight;
            }
            result[i] = correction < 1 ? average / (1 - correction) : double.NaN;
        }
        return result;
    }

    private static Plot NewPlot()
    {
        var plot = new Plot();
        if (LabelFont.Typeface is { } typeface) plot.Font.Set(typeface.FamilyName);
        return plot;
    }

    private static void AddLine(Plot plot, PlotSeries series, ScottPlot.Color color, float width)
    {
        if (series.Xs.Count != series.Ys.Count)
            throw new ArgumentException($"series '{series.Label}': expected {series.Xs.Count} y values, one per x, found {series.Ys.Count}");
        // ScottPlot draws NaN as a break in the line; infinities would wreck the axis range.
        var ys = series.Ys.Select(y => double.IsFinite(y) ? y : double.NaN).ToArray();
        var line = plot.Add.ScatterLine(series.Xs.ToArray(), ys, color);
        line.LineWidth = width;
        line.LegendText = series.Label;
    }

    private static void Draw(Plot plot, SKCanvas canvas, int left, int top, int width, int height)
    {
        canvas.Save();
        canvas.ClipRect(SKRect.Create(left, top, width, height));
        canvas.Translate(left, top);
        plot.Render(canvas, width, height);
        canvas.Restore();
    }

    private static byte[] Encode(SKSurface surface)
    {
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
