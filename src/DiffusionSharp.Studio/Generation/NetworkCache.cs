using DiffusionSharp.Pipelines;

namespace DiffusionSharp.Studio.Generation;

/// <summary>
/// The models loaded for generations, newest first, reused while their files are unchanged (a run folder's
/// <c>unet/</c> is rewritten at each checkpoint). Used on the generation thread only. Loading a model each time would
/// cost its load time per Generate and leave TorchSharp's construction temporaries behind (a <c>Conv2d</c> with a bias
/// leaves one tensor wrapper to the finalizer), so the server's tensors would grow with every request. An entry is a
/// whole model: a network with its VAE (a latent model), or a Stable Diffusion pipeline's components.
/// </summary>
internal sealed class NetworkCache(int capacity) : IDisposable
{
    private readonly List<(string Key, IDisposable Model)> _entries = [];

    /// <summary>
    /// The network of <paramref name="networkFolder"/> (a <see cref="DiffusionPipeline.NetworkFolder"/>) in eval mode, and
    /// for a latent model the autoencoder of <paramref name="vaeFolder"/> (a <see cref="DiffusionPipeline.VaeFolder"/>); the cache owns both.
    /// </summary>
    public DenoiserModel Get(string networkFolder, string? vaeFolder = null) =>
        Get(vaeFolder is null ? [networkFolder] : [networkFolder, vaeFolder], () => DenoiserModel.Load(networkFolder, vaeFolder));

    /// <summary>
    /// The Stable Diffusion pipeline of <paramref name="folder"/> with its own scheduler (take another with
    /// <see cref="StableDiffusionPipeline.WithScheduler"/>); the cache owns it.
    /// </summary>
    public StableDiffusionPipeline GetTextToImage(string folder) =>
        Get(StableDiffusionPipeline.RequiredComponents.Where(c => c != "scheduler").Select(c => Path.Combine(folder, c)).ToArray(),
            () => StableDiffusionPipeline.Load(folder));

    private T Get<T>(IReadOnlyList<string> folders, Func<T> load) where T : class, IDisposable
    {
        string key = typeof(T).Name + "|" + string.Join("||", folders.Select(Key));
        int at = _entries.FindIndex(e => e.Key == key);
        if (at >= 0)
        {
            var hit = _entries[at];
            _entries.RemoveAt(at);
            _entries.Insert(0, hit);
            return (T)hit.Model;
        }
        var model = load();
        _entries.Insert(0, (key, model));
        while (_entries.Count > capacity)
        {
            _entries[^1].Model.Dispose();
            _entries.RemoveAt(_entries.Count - 1);
        }
        return model;
    }

    /// <summary>The folder and the size and time of each of its files: a rewritten weights file is a new key.</summary>
    private static string Key(string folder) =>
        string.Join('|', (Directory.Exists(folder) ? Directory.EnumerateFiles(folder) : []).Order(StringComparer.Ordinal)
            .Select(f => new FileInfo(f)).Select(f => $"{f.Name}:{f.Length}:{f.LastWriteTimeUtc.Ticks}").Prepend(Path.GetFullPath(folder)));

    public void Dispose()
    {
        foreach (var (_, model) in _entries) model.Dispose();
        _entries.Clear();
    }
}
