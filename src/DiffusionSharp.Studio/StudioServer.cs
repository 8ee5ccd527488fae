using System.Net;
using DiffusionSharp.Studio.Forward;
using DiffusionSharp.Studio.Generation;
using DiffusionSharp.Studio.Training;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DiffusionSharp.Studio;

/// <summary>
/// DiffusionSharp Studio: an ASP.NET Core app (minimal APIs, static pages embedded in this assembly) with three pages —
/// the forward process, generation streamed step by step, and training runs followed live — for the models and runs
/// in two configured folders. Start it with <see cref="StartAsync"/>, open <see cref="Url"/>, dispose to stop.
/// </summary>
/// <remarks>
/// Tensor work runs on two threads of the server's own (generation, one at a time; the forward process), so request
/// threads never hold tensors and <see cref="LiveTensorsAsync"/> counts every tensor the server has alive.
/// </remarks>
public sealed class StudioServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly StudioServices _services;

    private StudioServer(WebApplication app, StudioServices services, Uri url)
    {
        _app = app;
        _services = services;
        Url = url;
    }

    /// <summary>The address to open: the host and port it listens on (the loopback's for a wide host), with <c>?token=</c> when there is one.</summary>
    public Uri Url { get; }

    /// <summary>The options it runs with.</summary>
    public StudioOptions Options => _services.Options;

    /// <summary>Starts listening.</summary>
    /// <param name="options">What to serve; checked first.</param>
    /// <param name="verbose">Log internal errors with their stack traces (on standard error).</param>
    /// <exception cref="InvalidInputException">Bad options, or the port is taken.</exception>
    public static async Task<StudioServer> StartAsync(StudioOptions options, bool verbose = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        // The caller owns Ctrl+C and SIGTERM (diffuse stops the server itself).
        builder.Services.AddSingleton<IHostLifetime, CallerOwnedLifetime>();
        builder.WebHost.UseSockets(sockets => sockets.CreateBoundListenSocket = endpoint =>
        {
            // Accepted connections inherit the listening socket's send buffer size.
            var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
            socket.SendBufferSize = options.SendBufferBytes;
            return socket;
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxUploadBytes + 64 * 1024;
            kestrel.Listen(options.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(options.Host), options.Port);
        });
        var services = new StudioServices(options, verbose);
        var app = builder.Build();
        app.UseJsonErrors(verbose);
        app.UseAccessGuard(options);
        StaticPages.Map(app);
        ForwardEndpoints.Map(app, services);
        GenerateEndpoints.Map(app, services);
        TrainingEndpoints.Map(app, services);
        app.MapGet("/api/status", () => Results.Json(new
        {
            models = options.ModelsRoot,
            runs = options.RunsRoot,
            generations = services.GenerationWorker.Admitted,
            maxGenerations = services.GenerationWorker.Capacity,
        }, StudioJson.Options));
        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            services.Dispose();
            throw InvalidInputException.For<StudioOptions>(nameof(StudioOptions.Port), $": cannot listen on {options.Host}:{options.Port} ({e.Message.TrimEnd('.')})");
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        int port = new Uri(address).Port;
        string host = options.IsLoopback ? (options.Host.Contains(':') ? $"[{options.Host}]" : options.Host) : "127.0.0.1";
        string query = options.Token is null ? "" : "?token=" + Uri.EscapeDataString(options.Token);
        return new StudioServer(app, services, new Uri($"http://{host}:{port}/{query}"));
    }

    /// <summary>TorchSharp tensors alive on the server's tensor threads, read after the work already queued there.</summary>
    public async Task<long> LiveTensorsAsync() =>
        await _services.GenerationWorker.LiveTensorsAsync() + await _services.ForwardWorker.LiveTensorsAsync();

    /// <summary>Generations running or waiting.</summary>
    public int GenerationsAdmitted => _services.GenerationWorker.Admitted;

    /// <summary>Stops: running generations end at their next step, open streams are closed.</summary>
    public async ValueTask DisposeAsync()
    {
        _services.Stopping.Cancel();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _services.Dispose();
    }

    private sealed class CallerOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
