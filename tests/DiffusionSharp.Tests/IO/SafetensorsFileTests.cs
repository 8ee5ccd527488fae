using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using DiffusionSharp.IO;
using DiffusionSharp.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.IO;

/// <summary>The strict safetensors reader and the atomic writer.</summary>
public sealed class SafetensorsFileTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>Writes a hand-made file: u64 length, the header text, then <paramref name="dataBytes"/> bytes.</summary>
    private string WriteRaw(string header, int dataBytes, ulong? claimedLength = null, string name = "bad.safetensors")
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimedLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        var path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static InvalidInputException Bad(string path) => Assert.Throws<InvalidInputException>(() => SafetensorsFile.Load(path));

    [Fact]
    public void Should_RoundTripEveryDtype_When_SavedAndLoaded()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["f64"] = tensor(new[] { 1.5, -2.25 }),
            ["f32"] = arange(6, dtype: ScalarType.Float32).reshape(2, 3),
            ["f16"] = tensor(new float[] { 0.5f, 3f }).to_type(ScalarType.Float16),
            ["bf16"] = tensor(new float[] { 0.5f, -3f }).to_type(ScalarType.BFloat16),
            ["i64"] = tensor(new long[] { long.MaxValue, -1 }),
            ["i32"] = tensor(new[] { int.MinValue, 7 }),
            ["i16"] = tensor(new short[] { -5, 5 }),
            ["i8"] = tensor(new sbyte[] { -128, 127 }),
            ["u8"] = tensor(new byte[] { 0, 255 }),
            ["bool"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(3.0f),
            ["empty"] = zeros(0, 3),
            ["transposed"] = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t(),
        };
        var path = PathOf("all.safetensors");
        SafetensorsFile.Save(path, tensors);
        var loaded = SafetensorsFile.Load(path);
        Assert.Equal(tensors.Keys.Order(), loaded.Keys.Order());
        foreach (var (name, expected) in tensors)
        {
            Assert.Equal(expected.dtype, loaded[name].dtype);
            Assert.Equal(expected.shape, loaded[name].shape);
            Assert.True(expected.equal(loaded[name]).all().item<bool>(), name);
        }
    }

    [Fact]
    public void Should_WriteSortedPaddedHeaderWithFormatPt_When_Saving()
    {
        var path = PathOf("w.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["b"] = ones(3), ["a.x"] = zeros(2, 2), ["A"] = ones(1) },
            new Dictionary<string, string> { ["note"] = "hi" });
        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        using var doc = JsonDocument.Parse(header);
        var keys = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["__metadata__", "A", "a.x", "b"], keys);
        Assert.Equal("pt", doc.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());
        var read = SafetensorsFile.ReadHeader(path);
        Assert.Equal("hi", read.Metadata["note"]);
        Assert.Equal(8 + n + (1 + 4 + 3) * 4, bytes.Length);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void Should_ReadSingleTensorsLazily_When_UsingTheHeader()
    {
        var path = PathOf("lazy.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["x"] = arange(4, dtype: ScalarType.Float32), ["y"] = ones(2, 2, dtype: ScalarType.Int32) });
        var header = SafetensorsFile.ReadHeader(path);
        Assert.Equal(["x", "y"], header.Names);
        Assert.Equal([2L, 2L], header.Tensors["y"].Shape);
        Assert.Equal("I32", header.Tensors["y"].DType);
        using var x = header.ReadTensor("x");
        Assert.Equal(3f, x[3].item<float>());
        var e = Assert.Throws<InvalidInputException>(() => header.ReadTensor("z"));
        Assert.Contains("'z'", e.Message);
    }

    [Fact]
    public void Should_ReplaceAtomically_When_OverwritingAFile()
    {
        var path = PathOf("over.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["x"] = ones(100) });
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["y"] = zeros(2) });
        Assert.Equal(["y"], SafetensorsFile.ReadHeader(path).Names);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Should_ReadTheGoldenWeights_When_WrittenByTheDiffusersGenerator()
    {
        var header = SafetensorsFile.ReadHeader(Path.Combine(TestPaths.Golden, "unet", "diffusion_pytorch_model.safetensors"));
        Assert.Equal("pt", header.Metadata["format"]);
        Assert.Equal(144, header.Tensors.Count);
    }

    [Theory]
    [InlineData("model.bin")]
    [InlineData("model.pt")]
    [InlineData("model.ckpt")]
    [InlineData("model.pth")]
    public void Should_RefusePickle_When_ExtensionIsAPickleCheckpoint(string name)
    {
        var path = PathOf(name);
        File.WriteAllBytes(path, [0x80, 0x02, 0x7d]);
        var e = Bad(path);
        Assert.Contains(name, e.Message);
        Assert.Contains("pickle files can execute arbitrary code", e.Message);
    }

    [Fact]
    public void Should_RefusePickle_When_ZipCheckpointIsRenamedToSafetensors()
    {
        var path = PathOf("renamed.safetensors");
        File.WriteAllBytes(path, [(byte)'P', (byte)'K', 3, 4, 0, 0, 0, 0, 0, 0]);
        Assert.Contains("pickle", Bad(path).Message);
    }

    [Fact]
    public void Should_NameTheFile_When_FileIsMissing() =>
        Assert.Contains("nope.safetensors", Bad(PathOf("nope.safetensors")).Message);

    [Fact]
    public void Should_Fail_When_FileIsShorterThanTheLengthField()
    {
        var path = PathOf("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("truncated", Bad(path).Message);
    }

    [Fact]
    public void Should_Fail_When_HeaderLengthExceedsFile() =>
        Assert.Contains("claims 5000 bytes", Bad(WriteRaw("{}", 0, claimedLength: 5000)).Message);

    [Fact]
    public void Should_Fail_When_HeaderLengthExceedsLimit() =>
        Assert.Contains("exceeds the limit", Bad(WriteRaw("{}", 0, claimedLength: 1UL << 40)).Message);

    [Fact]
    public void Should_Fail_When_FileIsTruncatedInsideTheData()
    {
        var path = PathOf("t.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["w"] = ones(16) });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var e = Bad(path);
        Assert.Contains("'w'", e.Message);
        Assert.Contains("past the end", e.Message);
    }

    [Theory]
    [InlineData("{\"w\":", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "lacks data_offsets")]
    [InlineData("{\"w\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,4]}}", "unsupported dtype 'F8'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "negative dimension")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", "overflows")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "needs 8")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "begin <= end")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}}", "past the end")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", "unexpected or repeated header field 'extra'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "twice")]
    [InlineData("{\"__metadata__\":{\"format\":1},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "must be a string")]
    public void Should_NameTheProblem_When_HeaderIsMalformed(string header, string expected)
    {
        var e = Bad(WriteRaw(header, 8));
        Assert.Contains(expected, e.Message);
        Assert.Contains("bad.safetensors", e.Message);
    }

    [Fact]
    public void Should_NameBothTensors_When_OffsetsOverlap()
    {
        var e = Bad(WriteRaw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
        Assert.Contains("overlap", e.Message);
        Assert.Contains("'a'", e.Message);
        Assert.Contains("'b'", e.Message);
    }

    [Fact]
    public void Should_Fail_When_DataHasGapsOrTrailingBytes()
    {
        Assert.Contains("gap", Bad(WriteRaw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)).Message);
        Assert.Contains("trailing", Bad(WriteRaw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8)).Message);
    }

    [Fact]
    public void Should_LoadAllTensors_When_HandMadeFileIsValid()
    {
        var path = WriteRaw("{\"a\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[4,5]}}   ", 5, name: "ok.safetensors");
        var loaded = SafetensorsFile.Load(path);
        Assert.Equal([2L, 2L], loaded["a"].shape);
        Assert.Empty(loaded["b"].shape);
    }
}
