using DiffusionSharp.Studio.Forward;
using DiffusionSharp.Studio.Training;

namespace DiffusionSharp.Studio;

/// <summary>What the endpoints share: the options, the two catalogs, the tensor threads and the readers.</summary>
internal sealed class StudioServices : IDisposable
{
    public StudioServices(StudioOptions options, bool verbose)
    {
        Options = options;
        Verbose = verbose;
        Models = new FolderCatalog(options.ModelsRoot, "model", Generation.ModelInfo.IsModelFolder);
        Runs = new FolderCatalog(options.RunsRoot, "run", RunReader.IsRun);
        Images = new ImageSources(Models, Runs, new UploadStore(options.MaxUploads), options.MaxImageSide);
        RunReader = new RunReader(Runs);
        GenerationWorker = new TorchWorker("studio-generate", 1 + options.MaxQueuedGenerations);
        ForwardWorker = new TorchWorker("studio-forward", options.MaxQueuedForwardRequests);
    }

    public StudioOptions Options { get; }

    /// <summary>Whether internal errors are logged with their stack traces.</summary>
    public bool Verbose { get; }
    public FolderCatalog Models { get; }
    public FolderCatalog Runs { get; }
    public ImageSources Images { get; }
    public RunReader RunReader { get; }

    /// <summary>Runs generations one at a time; admits <see cref="StudioOptions.MaxQueuedGenerations"/> more to wait.</summary>
    public TorchWorker GenerationWorker { get; }

    /// <summary>The models loaded on the generation thread (the two used last).</summary>
    public Generation.NetworkCache Networks { get; } = new(2);

    /// <summary>The tokenizers of text-to-image models, for the prompt length check before a generation is queued.</summary>
    public Generation.TokenizerCache Tokenizers { get; } = new(4);

    /// <summary>The WAV files of the last audio generations, served to the Generate page.</summary>
    public Generation.ClipStore Clips { get; } = new(4);

    /// <summary>Computes x_t for the Forward page, beside a running generation.</summary>
    public TorchWorker ForwardWorker { get; }

    /// <summary>Uploads decoded at once.</summary>
    public SemaphoreSlim UploadSlots { get; } = new(2, 2);

    /// <summary>Cancelled when the server stops: running generations end at their next step.</summary>
    public CancellationTokenSource Stopping { get; } = new();

    public void Dispose()
    {
        Stopping.Cancel();
        GenerationWorker.Dispose();
        ForwardWorker.Dispose();
        Networks.Dispose();
        UploadSlots.Dispose();
        Stopping.Dispose();
    }
}
