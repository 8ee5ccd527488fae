using System.Buffers.Binary;
using DiffusionSharp.Audio;
using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Audio;

/// <summary>WAV reading and writing: every supported sample format round-trips; hostile headers give one-line errors naming the file.</summary>
public sealed class WavFileTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static float[] Ramp(int n, float scale = 0.9f) => Enumerable.Range(0, n).Select(i => scale * MathF.Sin(i * 0.37f)).ToArray();

    [Theory]
    [InlineData(WavSampleFormat.Pcm8, 1, 1.0 / 128)]
    [InlineData(WavSampleFormat.Pcm16, 1, 1.0 / 32768)]
    [InlineData(WavSampleFormat.Pcm24, 2, 1.0 / 8388608)]
    [InlineData(WavSampleFormat.Pcm32, 2, 1e-7)]
    [InlineData(WavSampleFormat.Float32, 1, 0)]
    [InlineData(WavSampleFormat.Float64, 2, 1e-7)]
    [InlineData(WavSampleFormat.Pcm16, 3, 1.0 / 32768)]
    public void Should_RoundTripWithinQuantisation_When_WritingAndReading(WavSampleFormat format, int channels, double quantum)
    {
        var data = Enumerable.Range(0, channels).Select(c => Ramp(1001, 0.9f - 0.2f * c)).ToArray();
        var path = Path.Combine(_dir, $"x-{format}-{channels}.wav");
        WavFile.Write(path, new WavAudio(22050, data, format));
        var back = WavFile.Read(path);
        Assert.Equal(22050, back.SampleRate);
        Assert.Equal(format, back.Format);
        Assert.Equal(channels, back.Channels.Count);
        Assert.Equal(1001, back.Length);
        for (var c = 0; c < channels; c++)
        {
            var err = data[c].Zip(back.Channels[c], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(err <= quantum * 0.5 + 1e-9, $"{format} channel {c}: max error {err} > half a quantum {quantum / 2}");
        }
        Assert.Single(Directory.GetFiles(_dir)); // atomic write: no temporary file left
    }

    [Fact]
    public void Should_DecodeNegative24BitAndExtensibleHeader_When_GivenHandMadeBytes()
    {
        // WAVE_FORMAT_EXTENSIBLE, PCM sub-format, mono, 24-bit: samples -1 (0x800000), -1/2^23 (0xFFFFFF) and 0.5 (0x400000).
        var fmt = new byte[40];
        BinaryPrimitives.WriteUInt16LittleEndian(fmt, 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(2), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(4), 48000);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(8), 48000 * 3);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(12), 3);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(14), 24);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(16), 22);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(18), 24);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(24), 1);
        new byte[] { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 }.CopyTo(fmt, 26);
        var bytes = Riff(("fmt ", fmt), ("LIST", new byte[3]), ("data", [0x00, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x40]));
        var audio = WavFile.Parse(bytes, "hand.wav");
        Assert.Equal(WavSampleFormat.Pcm24, audio.Format);
        Assert.Equal(48000, audio.SampleRate);
        Assert.Equal([-1f, -1f / 8388608, 0.5f], audio.Channels[0]);
    }

    [Fact]
    public void Should_ReadTheBundledSpokenDigit_When_ItIs16BitMono8kHz()
    {
        var audio = WavFile.Read(Path.Combine(TestPaths.RepoRoot, "data", "spoken-digits", "wav", "3_017.wav"));
        Assert.Equal((8000, 1, 8192, WavSampleFormat.Pcm16), (audio.SampleRate, audio.Channels.Count, audio.Length, audio.Format));
        // Values read independently with Python's wave module: peak |sample| 30150, samples 4000..4003, and the sum of all samples.
        Assert.Equal(30150 / 32768f, audio.Channels[0].Max(Math.Abs));
        Assert.Equal([-13326 / 32768f, -12858 / 32768f, -5683 / 32768f, -855 / 32768f], audio.Channels[0][4000..4004]);
        Assert.Equal(-20144, audio.Channels[0].Sum(v => (double)v * 32768), 6);
    }

    public static TheoryData<string, string> Hostile => new()
    {
        { "not-riff", "not a WAV file" },
        { "zero-channels", "0 channels" },
        { "zero-rate", "sample rate of 0 Hz" },
        { "absurd-channels", "4000 channels" },
        { "riff-lies", "the RIFF header declares" },
        { "data-too-long", "the data chunk declares 1000 bytes but only 8 follow" },
        { "truncated-frame", "not a whole number of 4-byte frames" },
        { "block-align-lies", "block align is 7 bytes" },
        { "no-data", "no data chunk" },
        { "bits-12", "12-bit PCM samples are not supported" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Should_ThrowOneLineErrorNamingTheFile_When_HeaderIsHostile(string kind, string expected)
    {
        var bytes = kind switch
        {
            "not-riff" => "OggS not a wav file at all"u8.ToArray(),
            "zero-channels" => Riff(("fmt ", Fmt(1, 0, 8000, 16)), ("data", new byte[4])),
            "zero-rate" => Riff(("fmt ", Fmt(1, 1, 0, 16)), ("data", new byte[4])),
            "absurd-channels" => Riff(("fmt ", Fmt(1, 4000, 8000, 16)), ("data", new byte[4])),
            "riff-lies" => SetUInt32(Riff(("fmt ", Fmt(1, 1, 8000, 16)), ("data", new byte[4])), 4, 100_000),
            "data-too-long" => SetUInt32(Riff(("fmt ", Fmt(1, 2, 8000, 16)), ("data", new byte[8])), 40, 1000),
            "truncated-frame" => Riff(("fmt ", Fmt(1, 2, 8000, 16)), ("data", new byte[6])),
            "block-align-lies" => SetUInt16(Riff(("fmt ", Fmt(1, 2, 8000, 16)), ("data", new byte[8])), 32, 7),
            "no-data" => Riff(("fmt ", Fmt(1, 1, 8000, 16))),
            "bits-12" => Riff(("fmt ", Fmt(1, 1, 8000, 12)), ("data", new byte[4])),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var path = Path.Combine(_dir, kind + ".wav");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidInputException>(() => WavFile.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_LeaveNoFile_When_WritingInvalidAudio()
    {
        var path = Path.Combine(_dir, "bad.wav");
        Assert.Throws<ArgumentException>(() => WavFile.Write(path, new WavAudio(8000, [new float[3], new float[4]])));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    private static byte[] Fmt(ushort tag, int channels, int rate, int bits)
    {
        var f = new byte[16];
        var align = channels * bits / 8;
        BinaryPrimitives.WriteUInt16LittleEndian(f, tag);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(8), (uint)(rate * align));
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(12), (ushort)align);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(14), (ushort)bits);
        return f;
    }

    private static byte[] Riff(params (string Id, byte[] Body)[] chunks)
    {
        using var ms = new MemoryStream();
        ms.Write("RIFF\0\0\0\0WAVE"u8);
        foreach (var (id, body) in chunks)
        {
            ms.Write(System.Text.Encoding.ASCII.GetBytes(id));
            var size = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(size, (uint)body.Length);
            ms.Write(size);
            ms.Write(body);
            if (body.Length % 2 == 1) ms.WriteByte(0);
        }
        var bytes = ms.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)(bytes.Length - 8));
        return bytes;
    }

    private static byte[] SetUInt32(byte[] b, int offset, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), value);
        return b;
    }

    private static byte[] SetUInt16(byte[] b, int offset, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(offset), value);
        return b;
    }
}
