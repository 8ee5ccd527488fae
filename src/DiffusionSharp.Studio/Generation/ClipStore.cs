using System.Security.Cryptography;

namespace DiffusionSharp.Studio.Generation;

/// <summary>
/// The WAV files of the last few audio generations, kept in memory so the Generate page can play them
/// (<c>GET /api/clips/{id}/{index}.wav</c>). Ids are random, so one client cannot guess another's; the oldest generation is
/// dropped when a new one exceeds <paramref name="capacity"/>.
/// </summary>
/// <param name="capacity">Generations kept.</param>
internal sealed class ClipStore(int capacity)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<(string Id, IReadOnlyList<byte[]> Wavs)> _generations = new();

    /// <summary>Keeps one generation's WAV files; returns its id.</summary>
    public string Add(IReadOnlyList<byte[]> wavs)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        lock (_lock)
        {
            _generations.AddLast((id, wavs));
            while (_generations.Count > capacity) _generations.RemoveFirst();
        }
        return id;
    }

    /// <summary>Clip <paramref name="index"/> of generation <paramref name="id"/>, or null when there is none (or it was dropped).</summary>
    public byte[]? Get(string id, int index)
    {
        lock (_lock)
        {
            foreach (var (key, wavs) in _generations)
                if (key == id) return index >= 0 && index < wavs.Count ? wavs[index] : null;
        }
        return null;
    }
}
