using System.Buffers.Binary;
using System.IO.Compression;

namespace DiffusionSharp.Data;

/// <summary>
/// Reads IDX files, the layout of MNIST and Fashion-MNIST: a 4-byte big-endian magic <c>00 00 TT ND</c>
/// (TT = element type, ND = number of dimensions), ND big-endian int32 sizes, then the payload in row-major order.
/// Files may be gzip-compressed (detected by the magic bytes <c>1F 8B</c>, whatever the extension) or raw.
/// Only element type 0x08 (unsigned byte) is supported. Every malformed file is an <see cref="InvalidInputException"/>
/// naming it.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic of an IDX3 image file: uint8, 3 dimensions <c>[N, H, W]</c>.</summary>
    public const int ImagesMagic = 0x0803;

    /// <summary>Magic of an IDX1 label file: uint8, 1 dimension <c>[N]</c>.</summary>
    public const int LabelsMagic = 0x0801;

    /// <summary>Largest payload accepted, in bytes (a single .NET array).</summary>
    public const long MaxPayloadBytes = int.MaxValue;

    private const byte TypeUInt8 = 0x08;
    private const int MaxDimensions = 8;

    /// <summary>Reads an image file: magic 2051 (uint8, <c>[N, H, W]</c>).</summary>
    /// <exception cref="InvalidInputException">Missing, malformed, truncated, or another magic.</exception>
    public static IdxArray ReadImages(string path) => Read(path, ImagesMagic);

    /// <summary>Reads a label file: magic 2049 (uint8, <c>[N]</c>).</summary>
    /// <exception cref="InvalidInputException">Missing, malformed, truncated, or another magic.</exception>
    public static IdxArray ReadLabels(string path) => Read(path, LabelsMagic);

    /// <summary>Reads any uint8 IDX file (1 to 8 dimensions); when <paramref name="expectedMagic"/> is set, the magic must equal it.</summary>
    /// <exception cref="InvalidInputException">Missing, malformed, truncated, unsupported type, or another magic.</exception>
    public static IdxArray Read(string path, int? expectedMagic = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: IDX file not found");
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var gzip = IsGzip(file);
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
            return ReadStream(stream, path, gzip, expectedMagic);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidInputException($"{path}: corrupt gzip data ({e.Message})", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new InvalidInputException($"{path}: cannot read IDX file ({e.Message})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InvalidInputException($"{path}: cannot read IDX file ({e.Message})", e);
        }
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> head = stackalloc byte[2];
        var n = file.ReadAtLeast(head, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return n == 2 && head[0] == 0x1F && head[1] == 0x8B;
    }

    private static IdxArray ReadStream(Stream stream, string path, bool gzip, int? expectedMagic)
    {
        var what = gzip ? "decompressed IDX data" : "IDX file";
        Span<byte> word = stackalloc byte[4];
        var n = stream.ReadAtLeast(word, 4, throwOnEndOfStream: false);
        if (n < 4) throw new InvalidInputException($"{path}: {what} too short for the 4-byte IDX magic (found {n} bytes)");

        var magic = BinaryPrimitives.ReadInt32BigEndian(word);
        var type = word[2];
        var rank = word[3];
        if (word[0] != 0 || word[1] != 0 || rank == 0 || rank > MaxDimensions)
            throw new InvalidInputException(
                $"{path}: not an IDX file: expected magic 00 00 <type> <1-{MaxDimensions} dims>{ExpectedSuffix(expectedMagic)}, found {word[0]:X2} {word[1]:X2} {word[2]:X2} {word[3]:X2}");
        if (expectedMagic is int expected && magic != expected)
            throw new InvalidInputException($"{path}: expected IDX magic {expected} ({Describe(expected)}), found {magic} ({Describe(magic)})");
        if (type != TypeUInt8)
            throw new InvalidInputException($"{path}: unsupported IDX element type 0x{type:X2}: expected 0x08 (unsigned byte)");

        var dims = new int[rank];
        long total = 1;
        for (var i = 0; i < rank; i++)
        {
            n = stream.ReadAtLeast(word, 4, throwOnEndOfStream: false);
            if (n < 4) throw new InvalidInputException($"{path}: {what} truncated in the header: expected {rank} dimension sizes, found {i}");
            var d = BinaryPrimitives.ReadInt32BigEndian(word);
            if (d <= 0) throw new InvalidInputException($"{path}: IDX dimension {i} is {d}: expected a size ≥ 1");
            dims[i] = d;
            total *= d;
            if (total > MaxPayloadBytes)
                throw new InvalidInputException($"{path}: IDX payload of [{string.Join(", ", dims.Take(i + 1))}...] exceeds the limit of {MaxPayloadBytes} bytes");
        }

        var data = ReadPayload(stream, (int)total, out var read)
            ?? throw new InvalidInputException(
                $"{path}: truncated IDX payload: dimensions [{string.Join(", ", dims)}] need {total} bytes, found {read}");
        if (stream.ReadByte() >= 0)
            throw new InvalidInputException(
                $"{path}: IDX payload longer than dimensions [{string.Join(", ", dims)}] allow: expected exactly {data.Length} bytes after the header");
        return new IdxArray(path, magic, dims, data);
    }

    /// <summary>
    /// Reads <paramref name="total"/> payload bytes without trusting the header's dimensions for the allocation: a raw file
    /// is measured first, and a gzip stream (whose length is unknown) fills a buffer that grows only as data arrives. So a
    /// 20-byte file claiming 2 GB of pixels fails as truncated after a small allocation. Returns null when fewer than
    /// <paramref name="total"/> bytes are there; <paramref name="read"/> says how many were.
    /// </summary>
    private static byte[]? ReadPayload(Stream stream, int total, out long read)
    {
        if (stream.CanSeek && stream.Length - stream.Position < total)
        {
            read = stream.Length - stream.Position;
            return null;
        }
        const int FirstChunk = 1 << 20;
        var data = GC.AllocateUninitializedArray<byte>(Math.Min(total, FirstChunk));
        var filled = 0;
        while (true)
        {
            filled += stream.ReadAtLeast(data.AsSpan(filled), data.Length - filled, throwOnEndOfStream: false);
            if (filled < data.Length || data.Length == total) break;
            Array.Resize(ref data, (int)Math.Min(total, 2L * data.Length));
        }
        read = filled;
        return filled == total ? data : null;
    }

    private static string ExpectedSuffix(int? expectedMagic) =>
        expectedMagic is int m ? $" ({m} for {Describe(m)})" : "";

    private static string Describe(int magic) => magic switch
    {
        ImagesMagic => "uint8 images [N, H, W]",
        LabelsMagic => "uint8 labels [N]",
        _ => $"type 0x{(magic >> 8) & 0xFF:X2}, {magic & 0xFF} dims",
    };
}
