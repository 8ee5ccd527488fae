using System.Buffers.Binary;
using System.Text;
using DiffusionSharp.Data;
using DiffusionSharp.Imaging;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Samplers;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>One test per hostile-file defect the fuzzer found or the limits guard against, plus the pickle refusal.</summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Safetensors(byte[] header, int dataBytes)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    [Theory]
    [InlineData("diffusion_pytorch_model.bin")]
    [InlineData("diffusion_pytorch_model.ckpt")]
    [InlineData("diffusion_pytorch_model.pt")]
    public void Should_RefusePickleNamingSafetensors_When_FolderHoldsOnlyPickleWeights(string pickle)
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), TinyRun.ConfigJson);
        Write(pickle, [0x80, 0x02, (byte)'}', (byte)'q', 0x00, (byte)'.']);
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(_dir));
        Assert.Contains("safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains("pickle", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_RefuseZipCheckpoint_When_NamedSafetensors()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), TinyRun.ConfigJson);
        Write(UNet2DModel.WeightsFileName, [(byte)'P', (byte)'K', 3, 4, 0, 0, 0, 0, 0, 0]);
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(_dir));
        Assert.Contains("only safetensors is accepted", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_RejectAsInvalidInput_When_DataOffsetsHoldStrings()
    {
        var path = Write("x.safetensors", Safetensors(Encoding.UTF8.GetBytes("""{"a":{"dtype":"U8","shape":[1],"data_offsets":["a",1]}}"""), 1));
        var e = Assert.Throws<InvalidInputException>(() => SafetensorsFile.Load(path));
        Assert.Contains("data_offsets", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_RejectAsInvalidInput_When_HeaderNameIsNotUtf8()
    {
        var header = Encoding.UTF8.GetBytes("""{"a?":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""");
        header[3] = 0xFF;
        var e = Assert.Throws<InvalidInputException>(() => SafetensorsFile.Load(Write("x.safetensors", Safetensors(header, 1))));
        Assert.Contains("UTF-8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_RejectBeforeAllocating_When_TinyIdxClaimsAGigabyte()
    {
        var bytes = new byte[20];
        BinaryPrimitives.WriteInt32BigEndian(bytes, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), 1 << 14);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), 1 << 8);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), 1 << 8);
        var path = Write("big-idx3-ubyte", bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidInputException>(() => IdxReader.Read(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "allocated a megabyte or more");
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_RefuseBeforeDecoding_When_PngHeaderClaimsHugeDimensions()
    {
        // A valid PNG signature and IHDR for 16000 x 16000 RGBA, then an empty IDAT and IEND: about 60 bytes.
        var png = new List<byte> { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, 16000);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), 16000);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 6; // RGBA
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk(png, "IEND", []);
        var path = Write("huge.png", png.ToArray());
        var e = Assert.Throws<InvalidInputException>(() => ImageFile.LoadPixels(path));
        Assert.Contains("16000x16000", e.Message, StringComparison.Ordinal);
    }

    private static void Chunk(List<byte> png, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        png.AddRange(len);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.AddRange(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        png.AddRange(crc);
    }

    /// <summary>PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320).</summary>
    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    [Fact]
    public void Should_RejectWithoutBuildingWeights_When_ConfigAsksForMoreWeightsThanTheFileHolds()
    {
        using (var model = new UNet2DModel(UNet2DConfig.FromJson(TinyRun.ConfigJson))) model.SavePretrained(_dir);
        File.WriteAllText(Path.Combine(_dir, "config.json"), TinyRun.ConfigJson.Replace("[8, 16]", "[32768, 65536]", StringComparison.Ordinal));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(_dir));
        Assert.Contains("weights do not match", e.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("block_out_channels", "[8, 1000000]")]
    [InlineData("layers_per_block", "100000")]
    [InlineData("in_channels", "2147483647")]
    public void Should_RejectNamingTheKey_When_ConfigValueIsAbsurd(string key, string value)
    {
        var json = $$"""{"_class_name": "UNet2DModel", "{{key}}": {{value}}, "norm_num_groups": 4}""";
        var e = Assert.Throws<InvalidInputException>(() => UNet2DConfig.FromJson(json));
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_RejectQuickly_When_SchedulerClaimsBillionsOfTimesteps()
    {
        var path = Write("scheduler_config.json", Encoding.UTF8.GetBytes("""{"_class_name": "DDPMScheduler", "num_train_timesteps": 2147483647}"""));
        var e = Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(path));
        Assert.Contains("num_train_timesteps", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_RejectNamingTheFile_When_ConfigIsTooDeepOrTooLarge()
    {
        var deep = Write("deep/config.json", Encoding.UTF8.GetBytes("{\"x\": " + new string('[', 100) + new string(']', 100) + "}"));
        Assert.Contains(deep, Assert.Throws<InvalidInputException>(() => UNet2DConfig.Load(deep)).Message, StringComparison.Ordinal);
        var large = Write("large/config.json", Encoding.UTF8.GetBytes("{\"x\": \"" + new string('a', (int)JsonFile.MaxBytes) + "\"}"));
        var e = Assert.Throws<InvalidInputException>(() => UNet2DConfig.Load(large));
        Assert.Contains("at most", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfigFile(large));
    }
}
