using System.ComponentModel;
using System.Globalization;
using DiffusionSharp.Data;
using DiffusionSharp.Imaging;
using DiffusionSharp.Noising;
using DiffusionSharp.Runtime;
using DiffusionSharp.Schedules;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse noise</c>: the forward process q(x_t | x_0) on one image, as a labelled filmstrip.</summary>
public sealed class NoiseCommand : Command<NoiseCommand.Settings>
{
    private const string MnistPrefix = "mnist:";

    public sealed class Settings : CommonSettings
    {
        [CommandOption("--image <PNG|mnist:N>")]
        [Description("An image file, or mnist:N for digit N of the bundled MNIST set.")]
        [DefaultValue("mnist:0")]
        public string Image { get; init; } = "mnist:0";

        [CommandOption("--timesteps <LIST>")]
        [Description("Comma-separated timesteps to show, each in [[0, T-1]].")]
        [DefaultValue("0,100,250,500,999")]
        public string Timesteps { get; init; } = "0,100,250,500,999";

        [CommandOption("--beta-schedule <NAME>")]
        [DefaultValue("linear")]
        public string BetaSchedule { get; init; } = "linear";

        [CommandOption("--train-timesteps <T>")]
        [Description("Number of training timesteps T.")]
        [DefaultValue(1000)]
        public int TrainTimesteps { get; init; } = 1000;

        [CommandOption("--beta-start <BETA>")]
        [DefaultValue(0.0001)]
        public double BetaStart { get; init; } = 0.0001;

        [CommandOption("--beta-end <BETA>")]
        [DefaultValue(0.02)]
        public double BetaEnd { get; init; } = 0.02;

        [CommandOption("--size <N>")]
        [Description("Resize and centre-crop the image to N x N (default: as it is, up to 256).")]
        public int? Size { get; init; }

        [CommandOption("--grayscale")]
        public bool Grayscale { get; init; }

        [CommandOption("--rows <N>")]
        [Description("Rows, each with its own noise draw.")]
        [DefaultValue(1)]
        public int Rows { get; init; } = 1;

        [CommandOption("--seed <S>")]
        [DefaultValue(0L)]
        public long Seed { get; init; }

        [CommandOption("--out <PNG>")]
        [DefaultValue("noise.png")]
        public string Out { get; init; } = "noise.png";

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } bad) return bad;
            if (Rows < 1) return ValidationResult.Error($"--rows must be at least 1 (got {Rows})");
            if (Size is < 1) return ValidationResult.Error($"--size must be at least 1 (got {Size})");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var config = new NoiseScheduleConfig(s.TrainTimesteps, s.BetaStart, s.BetaEnd, BetaScheduleNames.Parse(s.BetaSchedule, "--beta-schedule"));
        try
        {
            config.Validate();
        }
        catch (InvalidInputException e)
        {
            throw new InvalidInputException(CliNames.Rename(e.Message).Replace("--timesteps", "--train-timesteps", StringComparison.Ordinal));
        }
        var timesteps = ParseTimesteps(s.Timesteps, config.NumTrainTimesteps);
        CliFiles.CheckWritable(s.Out, "--out");
        TorchRuntime.Initialize(s.Threads, s.Device);

        using var x0 = LoadImage(s);
        var schedule = NoiseSchedule.Create(config);
        using var forward = new ForwardProcess(schedule);
        using var generator = new Generator((ulong)s.Seed);
        var labels = timesteps.Select(t => FormattableString.Invariant($"t={t} ᾱ={schedule.AlphaBar(t):0.00}")).ToList();
        var strip = new Filmstrip(labels)
        {
            Title = $"Forward process q(x_t | x_0), {config.Schedule.ToDiffusersName()} schedule, T = {config.NumTrainTimesteps}",
            // Room for the "t=… ᾱ=…" labels over tiny images such as 28x28 digits.
            Scale = x0.shape[^1] <= 32 ? 4 : null,
        };
        for (int row = 0; row < s.Rows; row++)
        {
            using var scope = torch.NewDisposeScope();
            var batch = x0.unsqueeze(0).expand(timesteps.Length, -1, -1, -1);
            // One noise draw per row, shared by its columns: the columns then show one path's signal fading, not n draws.
            var noise = torch.randn(x0.shape, generator: generator).unsqueeze(0).expand(timesteps.Length, -1, -1, -1);
            var t = torch.tensor(timesteps.Select(v => (long)v).ToArray(), dtype: ScalarType.Int64);
            var xt = forward.AddNoise(batch, noise, t);
            strip.AddRow(xt.clamp(-1, 1), s.Rows > 1 ? $"draw {row + 1}" : null);
        }
        strip.SavePng(s.Out);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{s.Out}[/]: {timesteps.Length} timesteps x {s.Rows} row(s)");
        return DiffuseApp.Ok;
    }

    /// <summary>Parses "0,100,999" and checks each against [0, T-1].</summary>
    internal static int[] ParseTimesteps(string text, int numTrainTimesteps)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts.Any(p => p.Length == 0))
            throw new InvalidInputException($"--timesteps: '{text}' is not a comma-separated list of whole numbers");
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out result[i]))
                throw new InvalidInputException($"--timesteps: '{parts[i]}' is not a whole number >= 0");
            if (result[i] >= numTrainTimesteps)
                throw new InvalidInputException($"--timesteps: {result[i]} is outside [0, {numTrainTimesteps - 1}] (T = {numTrainTimesteps})");
        }
        return result;
    }

    private static Tensor LoadImage(Settings s)
    {
        if (s.Image.StartsWith(MnistPrefix, StringComparison.OrdinalIgnoreCase))
        {
            IImageDataset digits = IdxDataset.Mnist();
            if (!int.TryParse(s.Image[MnistPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= digits.Count)
                throw new InvalidInputException($"--image: '{s.Image}' must be mnist:N with N in [0, {digits.Count - 1}]");
            var pixels = new float[digits.ImageSize];
            digits.FillBatch([index], pixels, new long[1]);
            return torch.tensor(pixels, [digits.Channels, digits.Height, digits.Width]);
        }
        CliFiles.CheckExists(s.Image, "--image");
        var size = s.Size;
        if (size is null)
        {
            var probe = ImageFile.LoadPixels(s.Image, s.Grayscale);
            if (Math.Max(probe.Height, probe.Width) > 256) size = 256;
        }
        return ImageFile.LoadTensor(s.Image, s.Grayscale, size);
    }
}
