using System.Buffers.Binary;
using System.IO.Compression;

namespace DiffusionSharp.Tests.Data;

/// <summary>Writes small IDX files by hand, independently of the reader under test.</summary>
internal static class IdxTestFiles
{
    public static byte[] Bytes(int magic, int[] dims, byte[] payload)
    {
        var header = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (var i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        return [.. header, .. payload];
    }

    public static string Write(string dir, string name, byte[] bytes, bool gzip)
    {
        var path = Path.Combine(dir, name);
        if (!gzip)
        {
            File.WriteAllBytes(path, bytes);
            return path;
        }
        using var file = File.Create(path);
        using var zip = new GZipStream(file, CompressionLevel.Fastest);
        zip.Write(bytes);
        return path;
    }
}
