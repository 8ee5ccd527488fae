using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffusionSharp.IO;

/// <summary>
/// Strict reader and writer of the safetensors format (https://github.com/huggingface/safetensors):
/// an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON, then the raw little-endian tensor bytes.
/// Every header field is checked against the file's real length before any tensor is allocated, so a truncated or
/// hostile file fails with an <see cref="InvalidInputException"/> that names the file and the tensor.
/// Pickle checkpoints (.bin/.pt/.ckpt/.pth) are refused: unpickling can run arbitrary code.
/// </summary>
public static class SafetensorsFile
{
    /// <summary>Largest header accepted (the reference implementation's limit is also 100 MB).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>Most tensors accepted in one file (Stable Diffusion's U-Net has about 700; an LLM shard a few thousand).</summary>
    public const int MaxTensorCount = 100_000;

    /// <summary>Most dimensions accepted per tensor.</summary>
    public const int MaxDimensions = 16;

    private const string MetadataKey = "__metadata__";

    private static readonly string[] PickleExtensions = [".bin", ".pt", ".ckpt", ".pth", ".pkl"];

    /// <summary>Reads and validates the header only; no tensor data is read.</summary>
    /// <exception cref="InvalidInputException">Missing file, pickle file, or any malformed header field.</exception>
    public static SafetensorsHeader ReadHeader(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RejectPickle(path);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: safetensors file not found");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return ParseHeader(path, stream);
    }

    /// <summary>Reads every tensor, on the CPU, in its stored dtype. The caller owns (disposes) the tensors.</summary>
    /// <exception cref="InvalidInputException">See <see cref="ReadHeader"/>.</exception>
    public static Dictionary<string, Tensor> Load(string path)
    {
        var header = ReadHeader(path);
        return Load(header, header.Names);
    }

    /// <summary>Reads the named tensors of an already parsed header. The caller owns the tensors.</summary>
    public static Dictionary<string, Tensor> Load(SafetensorsHeader header, IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(names);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var stream = OpenChecked(header.Path, header.FileLength);
            foreach (var name in names)
            {
                if (!header.Tensors.TryGetValue(name, out var info))
                {
                    throw new InvalidInputException($"{header.Path}: no tensor named '{name}'");
                }
                result[name] = ReadTensor(stream, header, info);
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> atomically: keys sorted ordinally, <c>__metadata__</c> with <c>"format": "pt"</c>
    /// (plus <paramref name="metadata"/>), header padded with spaces to a multiple of 8 bytes.
    /// Tensors may live on any device and need not be contiguous; they are not modified.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor has a dtype safetensors cannot store, or a key is empty.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            if (name.Length == 0 || name == MetadataKey) throw new ArgumentException($"invalid tensor name '{name}'", nameof(tensors));
            _ = DTypeName(tensors[name].dtype, name);
        }

        var meta = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata) meta[k] = v;
        }

        var header = BuildHeader(names, tensors, meta);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            stream.Write(len);
            stream.Write(header);
            foreach (var name in names)
            {
                using var scope = NewDisposeScope();
                var t = tensors[name].detach().cpu().contiguous();
                if (t.numel() > 0) WriteBytes(stream, t);
            }
        });
    }

    /// <summary>Maps a safetensors dtype string to the TorchSharp element type; null when unknown.</summary>
    public static ScalarType? ParseDType(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => null,
    };

    /// <summary>Throws the pickle-refusal error when <paramref name="path"/> has a pickle checkpoint extension.</summary>
    public static void RejectPickle(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (PickleExtensions.Contains(ext))
        {
            throw new InvalidInputException(
                $"{path}: '{ext}' is a PyTorch pickle checkpoint; pickle files can execute arbitrary code when loaded, so only .safetensors is accepted (convert it with safetensors' convert script or save_file in Python)");
        }
    }

    internal static FileStream OpenChecked(string path, long expectedLength)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (stream.Length != expectedLength)
        {
            stream.Dispose();
            throw new InvalidInputException($"{path}: file changed while reading (length was {expectedLength} bytes, now {stream.Length})");
        }
        return stream;
    }

    internal static Tensor ReadTensor(FileStream stream, SafetensorsHeader header, SafetensorsTensorInfo info)
    {
        if (info.ByteLength > Array.MaxLength)
        {
            throw new InvalidInputException($"{header.Path}: tensor '{info.Name}' has {info.ByteLength} bytes; tensors over {Array.MaxLength} bytes are not supported");
        }
        var tensor = empty(info.Shape.ToArray(), info.ScalarType);
        try
        {
            if (info.ByteLength > 0)
            {
                stream.Position = header.DataStart + info.Begin;
                stream.ReadExactly(tensor.bytes);
            }
            return tensor;
        }
        catch (EndOfStreamException e)
        {
            tensor.Dispose();
            throw new InvalidInputException($"{header.Path}: tensor '{info.Name}': file ended before byte {header.DataStart + info.End}", e);
        }
    }

    private static SafetensorsHeader ParseHeader(string path, FileStream stream)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading needs a little-endian CPU");
        var fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw new InvalidInputException($"{path}: truncated safetensors file: expected at least 8 bytes (header length), found {fileLength}");
        }
        Span<byte> lenBytes = stackalloc byte[8];
        stream.ReadExactly(lenBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        // A zip starts with "PK", a pickle with 0x80 and its protocol (2-5); read as a header length either is far longer than
        // the file. A real safetensors header may also begin with byte 0x80 (a length of 0x..80 bytes, e.g. 56,192), so the
        // magic bytes alone do not decide.
        bool pickleMagic = lenBytes[0] == (byte)'P' && lenBytes[1] == (byte)'K' || lenBytes[0] == 0x80 && lenBytes[1] is >= 2 and <= 5;
        if (pickleMagic && headerLength > (ulong)fileLength - 8)
        {
            throw new InvalidInputException($"{path}: this is a PyTorch pickle/zip checkpoint, not safetensors; pickle files can execute arbitrary code when loaded, so only safetensors is accepted");
        }
        if (headerLength > MaxHeaderBytes)
        {
            throw new InvalidInputException($"{path}: safetensors header length {headerLength} bytes exceeds the limit of {MaxHeaderBytes} bytes (corrupt or not a safetensors file)");
        }
        if (8 + (long)headerLength > fileLength)
        {
            throw new InvalidInputException($"{path}: truncated safetensors file: header claims {headerLength} bytes but only {fileLength - 8} follow the length field");
        }
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;

        // JsonDocument accepts invalid UTF-8 inside strings and only fails (InvalidOperationException) when a name is read.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
        {
            throw new InvalidInputException($"{path}: safetensors header is not valid UTF-8 (corrupt file)");
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: safetensors header is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidInputException($"{path}: safetensors header must be a JSON object, found {doc.RootElement.ValueKind}");
            }
            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw new InvalidInputException($"{path}: safetensors header lists '{prop.Name}' twice");
                if (prop.Name == MetadataKey)
                {
                    ParseMetadata(path, prop.Value, metadata);
                    continue;
                }
                if (tensors.Count == MaxTensorCount)
                    throw new InvalidInputException($"{path}: safetensors header lists more than {MaxTensorCount} tensors (corrupt or hostile file)");
                tensors[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataLength);
            }
            CheckLayout(path, tensors.Values, dataLength);
            return new SafetensorsHeader(path, fileLength, dataStart, tensors, metadata);
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidInputException($"{path}: __metadata__ must be an object of strings, found {value.ValueKind}");
        }
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
            {
                throw new InvalidInputException($"{path}: __metadata__ value '{m.Name}' must be a string, found {m.Value.ValueKind}");
            }
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
            {
                throw new InvalidInputException($"{path}: __metadata__ lists '{m.Name}' twice");
            }
        }
    }

    private static SafetensorsTensorInfo ParseEntry(string path, string name, JsonElement entry, long dataLength)
    {
        string Where() => $"{path}: tensor '{name}'";
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidInputException($"{Where()}: header entry must be an object with dtype, shape, data_offsets; found {entry.ValueKind}");
        }
        JsonElement? dtypeEl = null, shapeEl = null, offsetsEl = null;
        foreach (var p in entry.EnumerateObject())
        {
            switch (p.Name)
            {
                case "dtype" when dtypeEl is null: dtypeEl = p.Value; break;
                case "shape" when shapeEl is null: shapeEl = p.Value; break;
                case "data_offsets" when offsetsEl is null: offsetsEl = p.Value; break;
                default: throw new InvalidInputException($"{Where()}: unexpected or repeated header field '{p.Name}' (expected dtype, shape, data_offsets)");
            }
        }
        if (dtypeEl is null || shapeEl is null || offsetsEl is null)
        {
            var missing = new[] { ("dtype", dtypeEl), ("shape", shapeEl), ("data_offsets", offsetsEl) }.Where(x => x.Item2 is null).Select(x => x.Item1);
            throw new InvalidInputException($"{Where()}: header entry lacks {string.Join(", ", missing)}");
        }

        if (dtypeEl.Value.ValueKind != JsonValueKind.String)
        {
            throw new InvalidInputException($"{Where()}: dtype must be a string, found {dtypeEl.Value.ValueKind}");
        }
        var dtype = dtypeEl.Value.GetString()!;
        var scalarType = ParseDType(dtype)
            ?? throw new InvalidInputException($"{Where()}: unsupported dtype '{dtype}' (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");

        if (shapeEl.Value.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidInputException($"{Where()}: shape must be an array of non-negative integers, found {shapeEl.Value.ValueKind}");
        }
        var shape = new List<long>();
        long count = 1;
        foreach (var d in shapeEl.Value.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim))
            {
                throw new InvalidInputException($"{Where()}: shape entries must be integers, found {d.GetRawText()}");
            }
            if (dim < 0) throw new InvalidInputException($"{Where()}: negative dimension {dim} in shape");
            if (shape.Count == MaxDimensions) throw new InvalidInputException($"{Where()}: more than {MaxDimensions} dimensions in shape");
            try { count = checked(count * dim); }
            catch (OverflowException) { throw new InvalidInputException($"{Where()}: shape {shapeEl.Value.GetRawText()} overflows a 64-bit element count"); }
            shape.Add(dim);
        }
        long bytes;
        try { bytes = checked(count * ElementSize(scalarType)); }
        catch (OverflowException) { throw new InvalidInputException($"{Where()}: shape {shapeEl.Value.GetRawText()} x {dtype} overflows a 64-bit byte count"); }

        if (offsetsEl.Value.ValueKind != JsonValueKind.Array || offsetsEl.Value.GetArrayLength() != 2)
        {
            throw new InvalidInputException($"{Where()}: data_offsets must be [begin, end], found {offsetsEl.Value.GetRawText()}");
        }
        var o = offsetsEl.Value.EnumerateArray().ToArray();
        // TryGetInt64 throws InvalidOperationException on a non-number, so check the kind first.
        if (o[0].ValueKind != JsonValueKind.Number || o[1].ValueKind != JsonValueKind.Number
            || !o[0].TryGetInt64(out var begin) || !o[1].TryGetInt64(out var end) || begin < 0 || end < begin)
        {
            throw new InvalidInputException($"{Where()}: data_offsets must be non-negative integers with begin <= end, found {offsetsEl.Value.GetRawText()}");
        }
        if (end > dataLength)
        {
            throw new InvalidInputException($"{Where()}: data_offsets [{begin}, {end}] run past the end of the data region ({dataLength} bytes; file truncated?)");
        }
        if (end - begin != bytes)
        {
            throw new InvalidInputException($"{Where()}: data_offsets [{begin}, {end}] span {end - begin} bytes but shape {shapeEl.Value.GetRawText()} x {dtype} needs {bytes}");
        }
        return new SafetensorsTensorInfo(name, dtype, scalarType, shape, begin, end);
    }

    /// <summary>Like the reference implementation: the byte ranges must tile the data region exactly, without overlap or gaps.</summary>
    private static void CheckLayout(string path, IEnumerable<SafetensorsTensorInfo> entries, long dataLength)
    {
        long expected = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < expected)
            {
                throw new InvalidInputException($"{path}: tensor '{e.Name}' bytes [{e.Begin}, {e.End}] overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]");
            }
            if (e.Begin > expected)
            {
                var after = previous is null ? "the start of the data region" : $"tensor '{previous.Name}'";
                throw new InvalidInputException($"{path}: tensor '{e.Name}' starts at byte {e.Begin} leaving a gap of {e.Begin - expected} bytes after {after}");
            }
            expected = e.End;
            previous = e;
        }
        if (expected != dataLength)
        {
            throw new InvalidInputException($"{path}: the tensors cover {expected} bytes but the data region holds {dataLength} (extra trailing bytes)");
        }
    }

    internal static long ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a safetensors dtype"),
    };

    private static string DTypeName(ScalarType t, string name) => t switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"tensor '{name}' has dtype {t}, which safetensors cannot store"),
    };

    private static byte[] BuildHeader(List<string> names, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartObject(MetadataKey);
            foreach (var (k, v) in metadata) w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            foreach (var name in names)
            {
                var t = tensors[name];
                var bytes = t.numel() * ElementSize(t.dtype);
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeName(t.dtype, name));
                w.WriteStartArray("shape");
                foreach (var d in t.shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        var json = buffer.ToArray();
        var padded = (json.Length + 7) / 8 * 8;
        var header = new byte[padded];
        json.CopyTo(header, 0);
        header.AsSpan(json.Length).Fill((byte)' ');
        return header;
    }

    private static void WriteBytes(Stream stream, Tensor contiguousCpu)
    {
        var total = contiguousCpu.numel() * ElementSize(contiguousCpu.dtype);
        if (total > Array.MaxLength)
        {
            // Span<byte> is int-indexed: write a huge tensor in flat slices.
            var flat = contiguousCpu.reshape(-1);
            var step = Array.MaxLength / 8;
            for (long i = 0; i < flat.numel(); i += step)
            {
                using var slice = flat.narrow(0, i, Math.Min(step, flat.numel() - i));
                stream.Write(slice.bytes);
            }
            return;
        }
        stream.Write(contiguousCpu.bytes);
    }

}
