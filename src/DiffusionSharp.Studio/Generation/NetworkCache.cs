using DiffusionSharp.Models;

namespace DiffusionSharp.Studio.Generation;

/// <summary>
/// The networks loaded for generations, newest first, reused while their files are unchanged (a run folder's
/// <c>unet/</c> is rewritten at each checkpoint). Used on the generation thread only. Loading a network each time would
/// cost its load time per Generate and leave TorchSharp's construction temporaries behind (a <c>Conv2d</c> with a bias
/// leaves one tensor wrapper to the finalizer), so the server's tensors would grow with every request.
/// </summary>
internal sealed class NetworkCache(int capacity) : IDisposable
{
    private readonly List<(string Key, IDenoiser Network)> _entries = [];

    /// <summary>The network of <paramref name="folder"/> (a <see cref="Pipelines.DiffusionPipeline.NetworkFolder"/>), in eval mode; the cache owns it.</summary>
    public IDenoiser Get(string folder)
    {
        string key = Key(folder);
        int at = _entries.FindIndex(e => e.Key == key);
        if (at >= 0)
        {
            var hit = _entries[at];
            _entries.RemoveAt(at);
            _entries.Insert(0, hit);
            return hit.Network;
        }
        var network = Denoisers.FromPretrained(folder);
        network.Module.eval();
        _entries.Insert(0, (key, network));
        while (_entries.Count > capacity)
        {
            _entries[^1].Network.Dispose();
            _entries.RemoveAt(_entries.Count - 1);
        }
        return network;
    }

    /// <summary>The folder and the size and time of each of its files: a rewritten weights file is a new key.</summary>
    private static string Key(string folder) =>
        string.Join('|', Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal)
            .Select(f => new FileInfo(f)).Select(f => $"{f.Name}:{f.Length}:{f.LastWriteTimeUtc.Ticks}").Prepend(Path.GetFullPath(folder)));

    public void Dispose()
    {
        foreach (var (_, network) in _entries) network.Dispose();
        _entries.Clear();
    }
}
