using static TorchSharp.torch;

namespace DiffusionSharp.IO;

/// <summary>
/// The parsed and validated header of a safetensors file: tensor names, dtypes, shapes and byte ranges, plus <c>__metadata__</c>.
/// Reading the header touches no tensor data; <see cref="ReadTensor"/> then reads single tensors by name.
/// </summary>
public sealed class SafetensorsHeader
{
    internal SafetensorsHeader(string path, long fileLength, long dataStart,
        IReadOnlyDictionary<string, SafetensorsTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        FileLength = fileLength;
        DataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file the header was read from.</summary>
    public string Path { get; }

    /// <summary>The file's length in bytes when the header was read.</summary>
    public long FileLength { get; }

    /// <summary>Absolute file offset of the data region (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>Every tensor entry, by name (ordinal comparison).</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> string map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in ordinal order.</summary>
    public IReadOnlyList<string> Names => Tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();

    /// <summary>Reads one tensor, on the CPU, in its stored dtype.</summary>
    /// <exception cref="InvalidInputException">The name is not in the file, or the file shrank since the header was read.</exception>
    public Tensor ReadTensor(string name)
    {
        if (!Tensors.TryGetValue(name, out var info))
        {
            throw new InvalidInputException($"{Path}: no tensor named '{name}' (the file holds {Tensors.Count} tensors)");
        }
        using var stream = SafetensorsFile.OpenChecked(Path, FileLength);
        return SafetensorsFile.ReadTensor(stream, this, info);
    }
}
