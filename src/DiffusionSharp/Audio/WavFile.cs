using System.Buffers.Binary;
using System.Text;
using DiffusionSharp.IO;

namespace DiffusionSharp.Audio;

/// <summary>
/// Reads and writes RIFF/WAVE files: PCM 8/16/24/32-bit and IEEE float 32/64, plain or <c>WAVE_FORMAT_EXTENSIBLE</c>, any channel
/// count up to <see cref="MaxChannels"/>. Reading is strict: a header whose sizes do not add up, a chunk running past the end of the
/// file or a truncated data chunk is an <see cref="InvalidInputException"/> naming the file and what is wrong, never silently
/// clamped (the reason this is not NAudio's <c>WaveFileReader</c>, which shortens a data chunk longer than the file).
/// </summary>
public static class WavFile
{
    /// <summary>Most channels accepted (WAVE_FORMAT_EXTENSIBLE's channel mask knows 18 speaker positions).</summary>
    public const int MaxChannels = 32;

    /// <summary>Highest sample rate accepted, in Hz.</summary>
    public const int MaxSampleRate = 1_536_000;

    private const ushort FormatPcm = 1;
    private const ushort FormatFloat = 3;
    private const ushort FormatExtensible = 0xFFFE;

    // The KSDATAFORMAT_SUBTYPE GUIDs are the format tag followed by these 14 bytes.
    private static readonly byte[] SubFormatTail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <summary>Reads a whole WAV file.</summary>
    /// <exception cref="InvalidInputException">Missing, not RIFF/WAVE, an unsupported format, or sizes that do not add up.</exception>
    public static WavAudio Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"{path}: cannot read the WAV file: {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Decodes WAV bytes; <paramref name="source"/> names the origin in error messages.</summary>
    /// <exception cref="InvalidInputException">Not RIFF/WAVE, an unsupported format, or sizes that do not add up.</exception>
    public static WavAudio Parse(ReadOnlySpan<byte> bytes, string source)
    {
        InvalidInputException Bad(string what) => new($"{source}: {what}");
        if (bytes.Length < 12 || !bytes[..4].SequenceEqual("RIFF"u8) || !bytes[8..12].SequenceEqual("WAVE"u8))
        {
            throw Bad(bytes.Length >= 4 && bytes[..4].SequenceEqual("RF64"u8)
                ? "RF64 (64-bit WAV) is not supported"
                : "not a WAV file (no RIFF/WAVE header)");
        }
        long riffSize = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        if (riffSize + 8 > bytes.Length)
        {
            throw Bad($"the RIFF header declares {riffSize + 8} bytes but the file has {bytes.Length} (truncated, or the header lies about its size)");
        }
        var body = bytes[..(int)(riffSize + 8)];

        Format? format = null;
        long pos = 12;
        while (pos + 8 <= body.Length)
        {
            var id = Encoding.ASCII.GetString(body.Slice((int)pos, 4));
            long size = BinaryPrimitives.ReadUInt32LittleEndian(body[(int)(pos + 4)..]);
            var start = pos + 8;
            if (start + size > body.Length)
            {
                throw Bad(id == "data"
                    ? $"the data chunk declares {size} bytes but only {body.Length - start} follow (truncated data)"
                    : $"chunk '{Printable(id)}' at byte {pos} declares {size} bytes but only {body.Length - start} follow");
            }
            var chunk = body.Slice((int)start, (int)size);
            if (id == "fmt ")
            {
                format = ReadFormat(chunk, Bad);
            }
            else if (id == "data")
            {
                if (format is not Format f) throw Bad("the data chunk comes before any fmt chunk");
                return Decode(chunk, f, Bad);
            }
            // Chunks are padded to an even size.
            pos = start + size + (size & 1);
        }
        throw Bad(format is null ? "no fmt chunk" : "no data chunk");
    }

    private readonly record struct Format(int Channels, int SampleRate, WavSampleFormat SampleFormat, int BlockAlign);

    private static Format ReadFormat(ReadOnlySpan<byte> c, Func<string, InvalidInputException> bad)
    {
        if (c.Length < 16) throw bad($"the fmt chunk has {c.Length} bytes, fewer than the 16 of a PCM header");
        var tag = BinaryPrimitives.ReadUInt16LittleEndian(c);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(c[2..]);
        var rate = BinaryPrimitives.ReadUInt32LittleEndian(c[4..]);
        var byteRate = BinaryPrimitives.ReadUInt32LittleEndian(c[8..]);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(c[12..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(c[14..]);
        if (channels == 0) throw bad("the fmt chunk says 0 channels");
        if (channels > MaxChannels) throw bad($"the fmt chunk says {channels} channels; at most {MaxChannels} are supported");
        if (rate == 0) throw bad("the fmt chunk says a sample rate of 0 Hz");
        if (rate > MaxSampleRate) throw bad($"the fmt chunk says a sample rate of {rate} Hz; at most {MaxSampleRate} is supported");
        if (tag == FormatExtensible)
        {
            if (c.Length < 40) throw bad($"the WAVE_FORMAT_EXTENSIBLE fmt chunk has {c.Length} bytes, fewer than 40");
            if (!c[26..40].SequenceEqual(SubFormatTail)) throw bad("the WAVE_FORMAT_EXTENSIBLE sub-format is neither PCM nor IEEE float");
            tag = BinaryPrimitives.ReadUInt16LittleEndian(c[24..]);
        }
        var sampleFormat = (tag, bits) switch
        {
            (FormatPcm, 8) => WavSampleFormat.Pcm8,
            (FormatPcm, 16) => WavSampleFormat.Pcm16,
            (FormatPcm, 24) => WavSampleFormat.Pcm24,
            (FormatPcm, 32) => WavSampleFormat.Pcm32,
            (FormatFloat, 32) => WavSampleFormat.Float32,
            (FormatFloat, 64) => WavSampleFormat.Float64,
            (FormatPcm or FormatFloat, _) => throw bad($"{bits}-bit {(tag == FormatPcm ? "PCM" : "float")} samples are not supported (PCM 8/16/24/32, float 32/64)"),
            _ => throw bad($"format tag 0x{tag:X4} is not supported (PCM, IEEE float or WAVE_FORMAT_EXTENSIBLE of either)"),
        };
        if (blockAlign != channels * bits / 8)
        {
            throw bad($"the fmt chunk's block align is {blockAlign} bytes, but {channels} channels of {bits} bits take {channels * bits / 8}");
        }
        if (byteRate != (long)rate * blockAlign)
        {
            throw bad($"the fmt chunk's byte rate is {byteRate}, but {rate} Hz x {blockAlign}-byte frames is {(long)rate * blockAlign}");
        }
        return new Format(channels, (int)rate, sampleFormat, blockAlign);
    }

    private static WavAudio Decode(ReadOnlySpan<byte> data, Format f, Func<string, InvalidInputException> bad)
    {
        if (data.Length % f.BlockAlign != 0)
        {
            throw bad($"the data chunk's {data.Length} bytes are not a whole number of {f.BlockAlign}-byte frames (truncated data)");
        }
        var frames = data.Length / f.BlockAlign;
        var width = f.BlockAlign / f.Channels;
        var channels = new float[f.Channels][];
        for (var ch = 0; ch < f.Channels; ch++) channels[ch] = new float[frames];
        for (var i = 0; i < frames; i++)
        {
            for (var ch = 0; ch < f.Channels; ch++)
            {
                var s = data.Slice(i * f.BlockAlign + ch * width, width);
                channels[ch][i] = f.SampleFormat switch
                {
                    WavSampleFormat.Pcm8 => (s[0] - 128) / 128f,
                    WavSampleFormat.Pcm16 => BinaryPrimitives.ReadInt16LittleEndian(s) / 32768f,
                    // Sign-extend the 3-byte value through the top of an int.
                    WavSampleFormat.Pcm24 => ((s[0] << 8 | s[1] << 16 | s[2] << 24) >> 8) / 8388608f,
                    WavSampleFormat.Pcm32 => (float)(BinaryPrimitives.ReadInt32LittleEndian(s) / 2147483648.0),
                    WavSampleFormat.Float32 => BinaryPrimitives.ReadSingleLittleEndian(s),
                    _ => (float)BinaryPrimitives.ReadDoubleLittleEndian(s),
                };
            }
        }
        foreach (var channel in channels)
        {
            foreach (var v in channel)
            {
                if (!float.IsFinite(v)) throw bad("the data holds a NaN or infinite float sample");
            }
        }
        return new WavAudio(f.SampleRate, channels, f.SampleFormat);
    }

    /// <summary>
    /// Writes <paramref name="audio"/> atomically in its <see cref="WavAudio.Format"/> (PCM values are clipped to [-1, 1] and
    /// rounded); more than two channels or more than 16 bits are written as <c>WAVE_FORMAT_EXTENSIBLE</c>, as the format asks.
    /// </summary>
    /// <exception cref="ArgumentException">No channels, channels of different lengths, or a sample rate out of range.</exception>
    public static void Write(string path, WavAudio audio)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(audio);
        var bytes = Encode(audio);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>The bytes of a WAV file holding <paramref name="audio"/> (see <see cref="Write"/>).</summary>
    public static byte[] Encode(WavAudio audio)
    {
        ArgumentNullException.ThrowIfNull(audio);
        var channels = audio.Channels.Count;
        if (channels is 0 or > MaxChannels) throw new ArgumentException($"audio must have 1 to {MaxChannels} channels, has {channels}", nameof(audio));
        if (audio.Channels.Any(c => c.Length != audio.Length)) throw new ArgumentException("all channels must have the same length", nameof(audio));
        if (audio.SampleRate is < 1 or > MaxSampleRate) throw new ArgumentException($"sample rate {audio.SampleRate} out of range", nameof(audio));
        var (tag, bits) = audio.Format switch
        {
            WavSampleFormat.Pcm8 => (FormatPcm, 8),
            WavSampleFormat.Pcm16 => (FormatPcm, 16),
            WavSampleFormat.Pcm24 => (FormatPcm, 24),
            WavSampleFormat.Pcm32 => (FormatPcm, 32),
            WavSampleFormat.Float32 => (FormatFloat, 32),
            _ => (FormatFloat, 64),
        };
        var width = bits / 8;
        var blockAlign = channels * width;
        long dataBytes = (long)audio.Length * blockAlign;
        var extensible = channels > 2 || (tag == FormatPcm && bits > 16);
        var fmtSize = extensible ? 40 : 16;
        var total = 12 + 8 + fmtSize + 8 + dataBytes + (dataBytes & 1);
        if (total > uint.MaxValue) throw new ArgumentException("audio too long for a RIFF file (4 GiB)", nameof(audio));
        var b = new byte[total];
        var span = b.AsSpan();
        "RIFF"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)(total - 8));
        "WAVE"u8.CopyTo(span[8..]);
        "fmt "u8.CopyTo(span[12..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)fmtSize);
        var fmt = span[20..];
        BinaryPrimitives.WriteUInt16LittleEndian(fmt, extensible ? FormatExtensible : tag);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt[2..], (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt[4..], (uint)audio.SampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt[8..], (uint)(audio.SampleRate * blockAlign));
        BinaryPrimitives.WriteUInt16LittleEndian(fmt[12..], (ushort)blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt[14..], (ushort)bits);
        if (extensible)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(fmt[16..], 22);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt[18..], (ushort)bits);
            // Channel mask 0: no speaker assignment.
            BinaryPrimitives.WriteUInt16LittleEndian(fmt[24..], tag);
            SubFormatTail.CopyTo(fmt[26..]);
        }
        var dataHeader = span[(20 + fmtSize)..];
        "data"u8.CopyTo(dataHeader);
        BinaryPrimitives.WriteUInt32LittleEndian(dataHeader[4..], (uint)dataBytes);
        var data = dataHeader[8..];
        for (var i = 0; i < audio.Length; i++)
        {
            for (var ch = 0; ch < channels; ch++)
            {
                var s = data.Slice(i * blockAlign + ch * width, width);
                double v = audio.Channels[ch][i];
                double c = double.IsNaN(v) ? 0 : Math.Clamp(v, -1, 1);
                switch (audio.Format)
                {
                    case WavSampleFormat.Pcm8: s[0] = (byte)Math.Clamp(Math.Round(c * 128) + 128, 0, 255); break;
                    case WavSampleFormat.Pcm16: BinaryPrimitives.WriteInt16LittleEndian(s, (short)Math.Clamp(Math.Round(c * 32768), short.MinValue, short.MaxValue)); break;
                    case WavSampleFormat.Pcm24:
                        var i24 = (int)Math.Clamp(Math.Round(c * 8388608), -8388608, 8388607);
                        s[0] = (byte)i24; s[1] = (byte)(i24 >> 8); s[2] = (byte)(i24 >> 16);
                        break;
                    case WavSampleFormat.Pcm32: BinaryPrimitives.WriteInt32LittleEndian(s, (int)Math.Clamp(Math.Round(c * 2147483648.0), int.MinValue, int.MaxValue)); break;
                    case WavSampleFormat.Float32: BinaryPrimitives.WriteSingleLittleEndian(s, (float)v); break;
                    default: BinaryPrimitives.WriteDoubleLittleEndian(s, v); break;
                }
            }
        }
        return b;
    }

    private static string Printable(string id) => new(id.Select(ch => ch is >= ' ' and <= '~' ? ch : '?').ToArray());
}
