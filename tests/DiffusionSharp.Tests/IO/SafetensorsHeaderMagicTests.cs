using System.Buffers.Binary;
using System.Text;
using DiffusionSharp.IO;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.IO;

/// <summary>A safetensors header whose length starts with byte 0x80 is not a pickle (the golden unet2d_condition weights have one of 56,192 bytes).</summary>
public sealed class SafetensorsHeaderMagicTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(0x0180)]
    [InlineData(0x0280)]
    [InlineData(0xDB80)]
    public void Should_ReadTheHeader_When_ItsLengthStartsWithByte0x80(int headerLength)
    {
        // Given a valid file whose 8-byte header length begins 0x80 (with 0x02 next it even looks like pickle protocol 2)
        var json = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}".PadRight(headerLength);
        var bytes = new byte[8 + headerLength + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerLength);
        Encoding.ASCII.GetBytes(json).CopyTo(bytes, 8);
        BitConverter.GetBytes(1.5f).CopyTo(bytes, 8 + headerLength);
        var path = Path.Combine(_dir, "w.safetensors");
        File.WriteAllBytes(path, bytes);
        Assert.Equal(0x80, bytes[0]);

        // Then it loads
        var tensors = SafetensorsFile.Load(path);
        Assert.Equal(1.5f, tensors["x"].item<float>());
        foreach (var t in tensors.Values) t.Dispose();
    }
}
