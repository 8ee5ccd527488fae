using System.Reflection;
using DiffusionSharp.Cli.Commands;
using DiffusionSharp.Cli.Commands.Bench;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli;

/// <summary>
/// The <c>diffuse</c> command line. Exit codes: 0 success, 2 bad input (a one-line error naming the file or option; also a
/// file-system failure such as a full disk, a read-only or missing folder, or a denied permission: the environment, not the
/// program, is at fault), 1 internal error (and training that diverged), 3 a requested check failed (<c>model check</c>
/// above its tolerance, <c>bench --max-rss-growth</c>), 130 interrupted by Ctrl+C, 143 stopped by SIGTERM (see
/// <see cref="StopSignals"/>). <c>--verbose</c> adds the stack trace.
/// </summary>
public static class DiffuseApp
{
    public const int Ok = 0;
    public const int InternalError = 1;
    public const int BadInput = 2;
    public const int CheckFailed = 3;
    public const int Interrupted = 130;

    /// <summary>
    /// What <c>diffuse --version</c> prints: the assembly's informational version (the package version, plus the
    /// commit it was built from when the build knows it).
    /// </summary>
    public static string Version { get; } =
        typeof(DiffuseApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(DiffuseApp).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    public static int Run(string[] args)
    {
        using var signals = new StopSignals();
        bool verbose = args.Contains("--verbose");
        int code;
        try
        {
            DistributedJob.Detect();
        }
        catch (Exception e)
        {
            return Report(e, verbose, args);
        }
        if (DistributedJob.Rank > 0)
        {
            Console.SetOut(TextWriter.Null);
            if (!DistributedJob.Shares(args)) return Ok;
        }
        // Bind Spectre's console to the current standard output on every run (it would otherwise keep the first writer).
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        try
        {
            code = signals.ExitCode(Build().Run(args, signals.Token));
        }
        catch (Exception e)
        {
            code = signals.ExitCode(Report(e, verbose, args));
        }
        DistributedJob.End(code);
        return code;
    }

    internal static CommandApp Build()
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("diffuse");
            config.SetApplicationVersion(Version);
            config.PropagateExceptions();
            config.Settings.StrictParsing = true;
            config.Settings.CancellationExitCode = Interrupted;
            config.AddCommand<ScheduleCommand>("schedule")
                .WithDescription("Show a noise schedule: beta, alpha_bar and SNR over t (table, --json arrays, --plot PNG).")
                .WithExample("schedule", "--beta-schedule", "cosine", "--timesteps", "1000", "--plot", "schedule.png");
            config.AddCommand<NoiseCommand>("noise")
                .WithDescription("Show the forward process on an image: a filmstrip from x_0 to x_T at chosen timesteps.")
                .WithExample("noise", "--image", "mnist:0", "--timesteps", "0,100,250,500,999", "--out", "strip.png");
            config.AddBranch("model", model =>
            {
                model.SetDescription("Inspect or verify a UNet2DModel.");
                model.AddCommand<ModelInfoCommand>("info")
                    .WithDescription("Config, parameter count, forward GFLOPs per image, weight dtype and size.")
                    .WithExample("model", "info", "--model", "cifar10-ddpm");
                model.AddCommand<ModelCheckCommand>("check")
                    .WithDescription("Run a checkpoint on a reference input and compare with the reference output (exit 3 above --tolerance).")
                    .WithExample("model", "check", "--model", "unet/", "--reference", "io.safetensors");
            });
            config.AddCommand<EvalCommand>("eval")
                .WithDescription("Score generated MNIST-like digits: FID-MNIST against 2,000 held-out digits, confidence, class coverage, accuracy.")
                .WithExample("eval", "samples.png", "--grid-columns", "10");
            config.AddBranch("eval-classifier", b =>
            {
                b.SetDescription("The classifiers behind diffuse eval (MNIST digits; colour images with --data).");
                b.AddCommand<EvalTrainClassifierCommand>("train")
                    .WithDescription("Train the digit classifier on the first 8,000 bundled MNIST digits, or with --data emoji --label-column subgroup a colour-image classifier.");
            });
            config.AddCommand<TrainCommand>("train")
                .WithDescription("Train a U-Net on images (MNIST bundled); the run folder is a diffusers pipeline folder.")
                .WithExample("train", "--data", "mnist", "--model", "mnist-tiny", "--steps", "2000", "--out", "runs/mnist");
            config.AddCommand<TrainVaeCommand>("train-vae")
                .WithDescription("Train an AutoencoderKL on images (reconstruction + KL); writes a diffusers vae/ folder with the measured scaling_factor.")
                .WithExample("train-vae", "--data", "emoji", "--resolution", "64", "--steps", "2000", "--out", "runs/vae");
            config.AddCommand<SampleCommand>("sample")
                .WithDescription("Generate images from a run or a diffusers UNet2DModel folder; optionally the reverse process as a filmstrip.")
                .WithExample("sample", "--model", "runs/mnist", "--ema", "--sampler", "ddim", "--steps", "50", "--out", "samples.png");
            config.AddCommand<EditCommand>("edit")
                .WithDescription("Edit an image with a trained model: image-to-image (SDEdit) or, with --mask, inpainting (RePaint).")
                .WithExample("edit", "--model", "runs/mnist", "--image", "digit.png", "--strength", "0.6", "--out", "edited.png");
            config.AddCommand<StudioCommand>("studio")
                .WithDescription("Watch diffusion in the browser: the forward process, generation step by step, training runs live.")
                .WithExample("studio", "--models", "models", "--runs", "runs", "--port", "7860");
            config.AddBranch("bench", bench =>
            {
                bench.SetDescription("Measure speed and memory: table by default, one JSON object with --json.");
                bench.AddCommand<BenchTrainCommand>("train").WithDescription("Images/s of real training steps on MNIST; efficiency, peak RSS, RSS over the run.")
                    .WithExample("bench", "train", "--model", "mnist-small", "--batch", "128", "--seconds", "60");
                bench.AddCommand<BenchSampleCommand>("sample").WithDescription("Images/s of the sampling loop (a preset with random weights, or a folder).")
                    .WithExample("bench", "sample", "--model", "mnist-small", "--sampler", "ddim", "--steps", "50", "--batch", "64");
                bench.AddCommand<BenchForwardCommand>("forward").WithDescription("Milliseconds per forward pass under inference mode.")
                    .WithExample("bench", "forward", "--model", "cifar10-ddpm", "--batch", "1");
                bench.AddCommand<BenchStudioCommand>("studio").WithDescription("Time from Generate to the first step image, and per step, through a studio on the loopback.")
                    .WithExample("bench", "studio", "--model", "models/mnist-tiny-cond", "--ema", "--steps", "20", "--class", "7", "--guidance", "3", "--json");
                bench.AddCommand<BenchConvCommand>("conv").WithDescription("GFLOP/s of a dense 3x3 convolution: the practical ceiling.");
            });
        });
        return app;
    }

    private static int Report(Exception e, bool verbose, string[] args)
    {
        if (e is DistributedJob.SilentFailure silent) return silent.ExitCode;
        var (code, message) = e switch
        {
            InvalidInputException invalid => (BadInput, CliNames.ForUser(invalid)),
            CommandAppException => (BadInput, NameTheOption(e.Message, args)),
            TorchUnavailableException => (InternalError, e.Message),
            IOException or UnauthorizedAccessException => (BadInput, $"file system: {e.Message}"),
            OperationCanceledException => (Interrupted, "interrupted"),
            _ => (InternalError, $"internal error: {e.GetType().Name}: {e.Message}"),
        };
        if (!DistributedJob.Reports) return code;
        var err = Console.Error;
        err.WriteLine($"diffuse: {(DistributedJob.Rank > 0 ? $"rank {DistributedJob.Rank}: " : "")}error: {FirstLine(message)}");
        if (verbose) err.WriteLine(e.ToString());
        else if (code == InternalError && e is not TorchUnavailableException) err.WriteLine("(run with --verbose for the stack trace)");
        return code;
    }

    /// <summary>Spectre says "Failed to convert 'abc' to Int32."; say which option had the bad value.</summary>
    private static string NameTheOption(string message, string[] args)
    {
        const string prefix = "Failed to convert '";
        if (!message.StartsWith(prefix, StringComparison.Ordinal)) return message;
        int end = message.IndexOf("' to ", prefix.Length, StringComparison.Ordinal);
        if (end < 0) return message;
        string value = message[prefix.Length..end];
        string type = message[(end + 5)..].TrimEnd('.');
        int at = Array.IndexOf(args, value);
        string option = at > 0 && args[at - 1].StartsWith('-') ? args[at - 1] : "an option";
        string expected = type switch { "Int32" or "Int64" => "a whole number", "Double" or "Single" => "a number", _ => type };
        return $"{option}: '{value}' is not {expected}";
    }

    private static string FirstLine(string s)
    {
        var line = s.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return line.Trim();
    }
}
