namespace DiffusionSharp.Imaging;

/// <summary>
/// The one mapping between model values in [-1, 1] and 8-bit pixel values 0..255:
/// <c>v = p / 127.5 - 1</c> and <c>p = round((clamp(v, -1, 1) + 1) * 127.5)</c>.
/// Byte → float → byte is exact for all 256 values.
/// </summary>
public static class PixelValues
{
    private static readonly float[] ByteToSignedTable = BuildTable();

    /// <summary>The float in [-1, 1] for pixel value <paramref name="pixel"/>.</summary>
    public static float ToSigned(byte pixel) => ByteToSignedTable[pixel];

    /// <summary>The pixel value for <paramref name="value"/>: clamped to [-1, 1], rounded to nearest; NaN maps to 0.</summary>
    public static byte ToByte(float value)
    {
        if (float.IsNaN(value)) return 0;
        var scaled = (Math.Clamp(value, -1f, 1f) + 1f) * 127.5f;
        return (byte)MathF.Round(scaled, MidpointRounding.AwayFromZero);
    }

    /// <summary>Converts <paramref name="pixels"/> to [-1, 1] into <paramref name="destination"/> (same length).</summary>
    public static void ToSigned(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        if (destination.Length != pixels.Length)
            throw new ArgumentException($"expected {pixels.Length} floats, found {destination.Length}", nameof(destination));
        var table = ByteToSignedTable;
        for (var i = 0; i < pixels.Length; i++) destination[i] = table[pixels[i]];
    }

    /// <summary>Converts <paramref name="values"/> in [-1, 1] to pixels into <paramref name="destination"/> (same length).</summary>
    public static void ToBytes(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (destination.Length != values.Length)
            throw new ArgumentException($"expected {values.Length} bytes, found {destination.Length}", nameof(destination));
        for (var i = 0; i < values.Length; i++) destination[i] = ToByte(values[i]);
    }

    private static float[] BuildTable()
    {
        var table = new float[256];
        for (var p = 0; p < 256; p++) table[p] = (float)(p / 127.5 - 1.0);
        return table;
    }
}
