using System.Net;

namespace DiffusionSharp.Studio;

/// <summary>
/// What the studio serves and its limits. Models and runs are chosen by the browser by id (a folder name directly under
/// <see cref="ModelsRoot"/> or <see cref="RunsRoot"/>), never by path.
/// </summary>
public sealed record StudioOptions
{
    /// <summary>The folder whose subfolders are the models the Generate page offers (diffusers pipeline or model folders).</summary>
    public required string ModelsRoot { get; init; }

    /// <summary>The folder whose subfolders are the training runs the Training page follows.</summary>
    public required string RunsRoot { get; init; }

    /// <summary>The address to listen on: a loopback address (the default) or, with a <see cref="Token"/>, any other.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port; 0 picks a free one.</summary>
    public int Port { get; init; } = 7860;

    /// <summary>When set, every request must carry it (query <c>?token=</c>, then a cookie; or <c>Authorization: Bearer</c>). Required off loopback.</summary>
    public string? Token { get; init; }

    /// <summary>The most sampler steps one generation may ask for.</summary>
    public int MaxSteps { get; init; } = 1000;

    /// <summary>The most images one generation may ask for (one network batch at the default <see cref="BatchSize"/>).</summary>
    public int MaxCount { get; init; } = 64;

    /// <summary>The largest sample side (height or width) of a model the studio samples; larger models are refused.</summary>
    public int MaxSampleSide { get; init; } = 128;

    /// <summary>Generations that may wait behind the running one; a request beyond that is answered 429.</summary>
    public int MaxQueuedGenerations { get; init; } = 4;

    /// <summary>Images per network batch: <c>diffuse sample</c>'s default <c>--batch</c>, so that the studio's images are its images.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// A latent model's step pictures (x_t and the predicted x_0) decode at most this many images of the batch through its
    /// VAE: two decodes per step cost more than the latent U-Net's step. The final grid holds every image.
    /// </summary>
    public int LatentPreviews { get; init; } = 4;

    /// <summary>Step events buffered per client; when a client reads slower, the generation waits for it.</summary>
    public int StepQueueCapacity { get; init; } = 8;

    /// <summary>
    /// Each connection's socket send buffer, in bytes (the kernel's part of what a slow client makes the server hold;
    /// Linux doubles it). With <see cref="StepQueueCapacity"/> and Kestrel's 64 KiB response buffer it bounds a client's queue.
    /// </summary>
    public int SendBufferBytes { get; init; } = 256 * 1024;

    /// <summary>The largest upload, in bytes.</summary>
    public long MaxUploadBytes { get; init; } = 4L << 20;

    /// <summary>The most pixels (width x height) an uploaded image may have; it is then shrunk to <see cref="MaxImageSide"/>.</summary>
    public long MaxUploadPixels { get; init; } = 4096L * 4096;

    /// <summary>Images larger than this on a side are resized (shorter side) and centre-cropped to it for the forward process.</summary>
    public int MaxImageSide { get; init; } = 256;

    /// <summary>Uploads kept in memory; the oldest is forgotten first.</summary>
    public int MaxUploads { get; init; } = 32;

    /// <summary>Forward-process requests waiting for the tensor thread; a request beyond that is answered 429.</summary>
    public int MaxQueuedForwardRequests { get; init; } = 16;

    /// <summary>The largest T of a schedule the Forward page may ask for.</summary>
    public int MaxTrainTimesteps { get; init; } = 10_000;

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the token and the host.</summary>
    public const string TokenProperty = "StudioOptions.Token", HostProperty = "StudioOptions.Host";

    /// <summary>Whether <see cref="Host"/> is a loopback address (or <c>localhost</c>).</summary>
    public bool IsLoopback => Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(Host, out var address) && IPAddress.IsLoopback(address));

    /// <summary>Checks the options.</summary>
    /// <exception cref="InvalidInputException">An option is out of range, a folder is missing, or a wide address has no token.</exception>
    public void Validate()
    {
        if (!Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) && !IPAddress.TryParse(Host, out _))
            throw InvalidInputException.For<StudioOptions>(nameof(Host), $": '{Host}' is not an IP address or localhost");
        if (Port is < 0 or > 65535) throw InvalidInputException.For<StudioOptions>(nameof(Port), $" must lie in [0, 65535] (got {Port})");
        if (Token is not null && (Token.Length < 8 || Token.Any(c => c is <= ' ' or > '~')))
            throw InvalidInputException.For<StudioOptions>(nameof(Token), " must be at least 8 printable ASCII characters without spaces");
        if (!IsLoopback && Token is null)
            throw new InvalidInputException(
                $"Token is required when Host is {Host}, not a loopback address: anyone who can reach the port could otherwise use the studio",
                TokenProperty, HostProperty);
        if (!Directory.Exists(ModelsRoot)) throw InvalidInputException.For<StudioOptions>(nameof(ModelsRoot), $": {ModelsRoot} does not exist");
        if (File.Exists(RunsRoot)) throw InvalidInputException.For<StudioOptions>(nameof(RunsRoot), $": {RunsRoot} is a file, not a folder");
        foreach (var (name, value) in new[] { (nameof(MaxSteps), MaxSteps), (nameof(MaxCount), MaxCount), (nameof(BatchSize), BatchSize),
                     (nameof(StepQueueCapacity), StepQueueCapacity), (nameof(MaxUploads), MaxUploads), (nameof(MaxImageSide), MaxImageSide),
                     (nameof(MaxSampleSide), MaxSampleSide), (nameof(LatentPreviews), LatentPreviews), (nameof(MaxTrainTimesteps), MaxTrainTimesteps), (nameof(SendBufferBytes), SendBufferBytes) })
            if (value < 1) throw InvalidInputException.For<StudioOptions>(name, $" must be at least 1 (got {value})");
        if (MaxQueuedGenerations < 0) throw InvalidInputException.For<StudioOptions>(nameof(MaxQueuedGenerations), $" must be 0 or more (got {MaxQueuedGenerations})");
        if (MaxQueuedForwardRequests < 1) throw InvalidInputException.For<StudioOptions>(nameof(MaxQueuedForwardRequests), $" must be at least 1 (got {MaxQueuedForwardRequests})");
        if (MaxUploadBytes < 1 || MaxUploadPixels < 1) throw InvalidInputException.For<StudioOptions>(nameof(MaxUploadBytes), " and MaxUploadPixels must be at least 1");
    }
}
