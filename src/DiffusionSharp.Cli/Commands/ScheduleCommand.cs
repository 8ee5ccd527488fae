using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using DiffusionSharp.Imaging;
using DiffusionSharp.Schedules;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse schedule</c>: the forward-process schedule as a table, JSON arrays or a plot.</summary>
public sealed class ScheduleCommand : Command<ScheduleCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("--beta-schedule <NAME>")]
        [Description("linear, scaled_linear, squaredcos_cap_v2 (= cosine) or sigmoid.")]
        [DefaultValue("linear")]
        public string BetaSchedule { get; init; } = "linear";

        [CommandOption("--timesteps <T>")]
        [Description("Number of training timesteps T.")]
        [DefaultValue(1000)]
        public int Timesteps { get; init; } = 1000;

        [CommandOption("--beta-start <BETA>")]
        [Description("First beta (linear, scaled_linear, sigmoid).")]
        [DefaultValue(0.0001)]
        public double BetaStart { get; init; } = 0.0001;

        [CommandOption("--beta-end <BETA>")]
        [Description("Last beta (linear, scaled_linear, sigmoid).")]
        [DefaultValue(0.02)]
        public double BetaEnd { get; init; } = 0.02;

        [CommandOption("--rescale-zero-snr")]
        [Description("Rescale to zero terminal SNR (Lin et al. 2023).")]
        public bool RescaleZeroSnr { get; init; }

        [CommandOption("--json")]
        [Description("Print {\"betas\": [[...]], \"alphas_cumprod\": [[...]]} on stdout instead of the table.")]
        public bool Json { get; init; }

        [CommandOption("--compare <NAMES>")]
        [Description("With --plot: also draw these comma-separated schedules (same T, betas and rescaling).")]
        public string? Compare { get; init; }

        [CommandOption("--plot <PNG>")]
        [Description("Also write a PNG of alpha_bar and log-SNR over t.")]
        public string? Plot { get; init; }

        public NoiseScheduleConfig ToConfig() => new(Timesteps, BetaStart, BetaEnd,
            BetaScheduleNames.Parse(BetaSchedule, "--beta-schedule"), RescaleZeroSnr);
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        NoiseScheduleConfig config;
        try
        {
            config = settings.ToConfig();
            config.Validate();
        }
        catch (InvalidInputException e)
        {
            throw new InvalidInputException(CliNames.Rename(e.Message));
        }
        var schedule = NoiseSchedule.Create(config);
        if (settings.Plot is { } plot)
        {
            var configs = new List<NoiseScheduleConfig> { config };
            foreach (var other in (settings.Compare ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                configs.Add(config with { Schedule = BetaScheduleNames.Parse(other, "--compare") });
            CliFiles.CheckWritable(plot, "--plot");
            var curves = configs.Select(c => (
                c.Schedule.ToDiffusersName() + (c.RescaleBetasZeroSnr ? " (zero terminal SNR)" : ""),
                (IReadOnlyList<double>)NoiseSchedule.Create(c).AlphasCumprod.ToArray().Select(a => (double)a).ToArray())).ToList();
            string title = configs.Count == 1 ? $"{curves[0].Item1} schedule, T = {schedule.NumTrainTimesteps}" : $"Noise schedules, T = {schedule.NumTrainTimesteps}";
            Plots.SaveSchedules(plot, curves, title);
        }
        if (settings.Json)
        {
            var json = new
            {
                betas = schedule.Betas.ToArray(),
                alphas_cumprod = schedule.AlphasCumprod.ToArray(),
            };
            Console.Out.WriteLine(JsonSerializer.Serialize(json));
            return 0;
        }
        WriteTable(schedule, config);
        if (settings.Plot is not null) AnsiConsole.MarkupLineInterpolated($"wrote [green]{settings.Plot}[/]");
        return 0;
    }

    private static void WriteTable(NoiseSchedule schedule, NoiseScheduleConfig config)
    {
        int n = schedule.NumTrainTimesteps;
        var table = new Table()
            .Title($"{config.Schedule.ToDiffusersName()} schedule, T = {n}{(config.RescaleBetasZeroSnr ? ", zero terminal SNR" : "")}")
            .AddColumns("t", "beta", "alpha_bar", "sqrt(ab)", "sqrt(1-ab)", "SNR", "log SNR")
            .Caption("ab = alpha_bar_t; x_t = sqrt(ab)·x_0 + sqrt(1-ab)·noise; SNR = ab / (1 - ab)");
        foreach (int t in new[] { 0, 1, n / 10, n / 4, n / 2, 3 * n / 4, 9 * n / 10, n - 1 }.Where(t => t < n).Distinct().Order())
        {
            double ab = schedule.AlphaBar(t), snr = schedule.Snr(t);
            table.AddRow(t.ToString(CultureInfo.InvariantCulture), G(schedule.Beta(t)), G(ab), G(Math.Sqrt(ab)), G(Math.Sqrt(1 - ab)), G(snr), G(Math.Log(snr)));
        }
        foreach (var column in table.Columns) column.RightAligned();
        AnsiConsole.Write(table);
    }

    private static string G(double v) => double.IsNegativeInfinity(v) ? "-inf" : double.IsPositiveInfinity(v) ? "inf" : v.ToString(Math.Abs(v) switch { 0 => "0", >= 1000 and < 1e6 => "0.#", >= 1e-3 and < 1000 => "0.#####", _ => "0.###e+0" }, CultureInfo.InvariantCulture);
}
