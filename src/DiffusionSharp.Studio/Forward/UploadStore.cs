using System.Collections.Concurrent;
using DiffusionSharp.Imaging;

namespace DiffusionSharp.Studio.Forward;

/// <summary>Uploaded images, decoded, kept in memory under random ids; past <c>capacity</c> the oldest is forgotten.</summary>
internal sealed class UploadStore(int capacity)
{
    private readonly ConcurrentDictionary<string, PixelImage> _images = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();

    /// <summary>Keeps <paramref name="image"/> and returns its new id (32 hex digits).</summary>
    public string Add(PixelImage image)
    {
        string id = Guid.NewGuid().ToString("N");
        _images[id] = image;
        _order.Enqueue(id);
        while (_images.Count > capacity && _order.TryDequeue(out var oldest)) _images.TryRemove(oldest, out _);
        return id;
    }

    /// <summary>The image of <paramref name="id"/>, or null when it is unknown or forgotten.</summary>
    public PixelImage? Get(string id) => _images.GetValueOrDefault(id);
}
