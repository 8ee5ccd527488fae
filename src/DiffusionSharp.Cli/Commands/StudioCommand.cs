using System.ComponentModel;
using System.Security.Cryptography;
using DiffusionSharp.Runtime;
using DiffusionSharp.Studio;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse studio</c>: the forward process, generation step by step and training runs, live in the browser.</summary>
public sealed class StudioCommand : Command<StudioCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("--models <DIR>")]
        [Description("The folder whose subfolders are the models to sample (default: models/ here, else the repository's).")]
        public string? Models { get; init; }

        [CommandOption("--runs <DIR>")]
        [Description("The folder whose subfolders are training runs to follow (their --out folders).")]
        [DefaultValue("runs")]
        public string Runs { get; init; } = "runs";

        [CommandOption("--host <ADDRESS>")]
        [Description("The address to listen on. Any other than the loopback needs --token (a random one is made and printed when none is given).")]
        [DefaultValue("127.0.0.1")]
        public string Host { get; init; } = "127.0.0.1";

        [CommandOption("--port <PORT>")]
        [Description("The TCP port (0: any free one).")]
        [DefaultValue(7860)]
        public int Port { get; init; } = 7860;

        [CommandOption("--token <TOKEN>")]
        [Description("A secret every request must carry (the printed URL has it).")]
        public string? Token { get; init; }

        [CommandOption("--max-queue <N>")]
        [Description("Generations that may wait behind the running one; more are answered 429.")]
        [DefaultValue(4)]
        public int MaxQueue { get; init; } = 4;
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        var options = new StudioOptions
        {
            ModelsRoot = s.Models ?? DefaultModels(),
            RunsRoot = s.Runs,
            Host = s.Host,
            Port = s.Port,
            MaxQueuedGenerations = s.MaxQueue,
        };
        // Off the loopback every request must carry a token: make one when none was given.
        options = options with { Token = s.Token ?? (options.IsLoopback ? null : RandomToken()) };
        options.Validate();
        TorchRuntime.Initialize(s.Threads, s.Device);
        var server = StudioServer.StartAsync(options, s.Verbose).GetAwaiter().GetResult();
        try
        {
            var console = Console.Out;
            console.WriteLine($"DiffusionSharp Studio: models from {options.ModelsRoot}, runs from {options.RunsRoot}");
            if (!options.IsLoopback) console.WriteLine($"listening on {options.Host}:{server.Url.Port}; every request must carry the token (in the URL below, or Authorization: Bearer)");
            console.WriteLine($"open {server.Url}");
            console.WriteLine("(Ctrl+C stops it)");
            console.Flush();
            cancellationToken.WaitHandle.WaitOne();
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        AnsiConsole.WriteLine("studio stopped");
        return DiffuseApp.Ok;
    }

    /// <summary><c>models/</c> in the working folder, else the first <c>models/</c> above the app (a repository checkout), else <c>models</c>.</summary>
    private static string DefaultModels()
    {
        if (Directory.Exists("models")) return "models";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory).Parent; dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models");
            if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "DiffusionSharp.slnx"))) return candidate;
        }
        return "models";
    }

    private static string RandomToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
}
