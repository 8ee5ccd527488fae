using static TorchSharp.torch;

namespace DiffusionSharp.IO;

/// <summary>One tensor's entry in a safetensors header, already validated against the file.</summary>
/// <param name="Name">The tensor's key, e.g. <c>down_blocks.1.attentions.0.to_q.weight</c>.</param>
/// <param name="DType">The safetensors dtype string (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL).</param>
/// <param name="ScalarType">The matching TorchSharp element type.</param>
/// <param name="Shape">Dimensions, each &gt;= 0; empty for a scalar.</param>
/// <param name="Begin">Start of the bytes, relative to the start of the data region.</param>
/// <param name="End">End of the bytes (exclusive), relative to the start of the data region.</param>
public sealed record SafetensorsTensorInfo(string Name, string DType, ScalarType ScalarType, IReadOnlyList<long> Shape, long Begin, long End)
{
    /// <summary>Number of bytes the tensor occupies: <c>End - Begin</c>.</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements (product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
