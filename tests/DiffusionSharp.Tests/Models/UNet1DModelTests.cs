using DiffusionSharp.Conditioning;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>
/// diffusers' UNet1DModel (Dance Diffusion blocks): given diffusers 0.30.3's outputs for the random-weight golden folder
/// (../shared/golden/visible/unet1d, README §11: atol 1e-4), the port must reproduce them; plus state-dict layout, save/load and config errors.
/// </summary>
public sealed class UNet1DModelTests(ITestOutputHelper output) : IDisposable
{
    private const double Tolerance = 1e-4;
    private static readonly Device Meta = new(TorchSharp.DeviceType.META);
    private static string GoldenDir => Path.Combine(TestPaths.Golden, "unet1d");
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string ApprovedPath => Path.Combine(TestPaths.RepoRoot, "tests", "DiffusionSharp.Tests", "Models", "Approved", "golden-unet1d.state_dict.txt");

    private static double MaxAbs(Tensor a, Tensor b) => (a.to_type(ScalarType.Float64) - b.to_type(ScalarType.Float64)).abs().max().item<double>();

    [Fact]
    public void Should_MatchDiffusersOutputAndIntermediates_When_LoadingGoldenFolder()
    {
        using var model = UNet1DModel.FromPretrained(GoldenDir);
        var io = SafetensorsFile.Load(Path.Combine(GoldenDir, "io.safetensors"));
        try
        {
            using var _ = inference_mode();
            var intermediates = new Dictionary<string, Tensor>();
            using var result = model.Trace(io["sample"], io["timestep"], intermediates);
            Assert.Equal(8, intermediates.Count); // time_proj, 3 down, mid, 3 up
            foreach (var (name, actual) in intermediates.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                var key = "intermediate." + name;
                Assert.True(io.ContainsKey(key), $"golden file lacks {key}");
                Assert.Equal(io[key].shape, actual.shape);
                var err = MaxAbs(actual, io[key]);
                output.WriteLine($"{name,-14} [{string.Join(",", actual.shape)}] max abs err {err:E2}");
                Assert.True(err <= Tolerance, $"{name}: max abs error {err} > {Tolerance}");
                actual.Dispose();
            }
            Assert.Equal(io["output_fp32"].shape, result.shape);
            var max = MaxAbs(result, io["output_fp32"]);
            output.WriteLine($"output max abs err {max:E3}");
            Assert.True(max <= Tolerance, $"output max abs error {max} > {Tolerance}");

            // A 0-d timestep is broadcast over the batch, as diffusers does.
            using var scalar = model.Forward(io["sample"], io["timestep_scalar"], Condition.None(2));
            var maxScalar = MaxAbs(scalar, io["output_scalar_timestep"]);
            Assert.True(maxScalar <= Tolerance, $"scalar-timestep output max abs error {maxScalar} > {Tolerance}");
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_HaveDiffusersStateDict_When_BuildingGoldenConfig()
    {
        var config = UNet1DConfig.Load(Path.Combine(GoldenDir, "config.json"));
        using var model = new UNet1DModel(config, Meta);
        var actual = model.state_dict().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(File.ReadAllLines(ApprovedPath).Where(l => l.Length > 0), actual);
        Assert.Equal(711_081, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Should_MatchApprovedFile_When_ApprovedFileIsTheGoldenWeightsHeader()
    {
        var header = SafetensorsFile.ReadHeader(Path.Combine(GoldenDir, UNet2DModel.WeightsFileName));
        var fromDiffusers = header.Tensors.Values.Select(t => $"{t.Name} [{string.Join(", ", t.Shape)}]").Order(StringComparer.Ordinal);
        Assert.Equal(File.ReadAllLines(ApprovedPath).Where(l => l.Length > 0), fromDiffusers);
    }

    [Fact]
    public void Should_GiveIdenticalOutput_When_SavedAndLoaded()
    {
        manual_seed(7);
        var config = new UNet1DConfig { InChannels = 1, OutChannels = 1, ExtraInChannels = 16, SampleSize = 256, BlockOutChannels = [32, 32, 64] };
        using var model = new UNet1DModel(config);
        model.eval();
        var folder = Path.Combine(_dir, "saved");
        model.SavePretrained(folder);
        using var loaded = Denoisers.FromPretrained(folder);
        Assert.IsType<UNet1DModel>(loaded);
        Assert.Equal(config.ToJson(), loaded.Config.ToJson());
        using var _ = inference_mode();
        using var g = new TorchSharp.torch.Generator(3);
        using var x = randn([2, 1, 256], generator: g);
        using var t = tensor(new[] { 0.1f, 0.7f });
        using var a = model.Forward(x, t, Condition.None(2));
        using var b = loaded.Forward(x, t, Condition.None(2));
        Assert.Equal(0.0, MaxAbs(a, b));
        Assert.True(a.abs().max().item<float>() > 0);
    }

    [Fact]
    public void Should_RoundTripConfigJson_When_ReadingTheGoldenConfig()
    {
        var config = UNet1DConfig.Load(Path.Combine(GoldenDir, "config.json"));
        Assert.Equal(2048, config.SampleSize);
        Assert.Equal(16, config.ExtraInChannels);
        Assert.Equal([DownBlock1DType.DownBlock1DNoSkip, DownBlock1DType.DownBlock1D, DownBlock1DType.AttnDownBlock1D], config.DownBlockTypes);
        var again = UNet1DConfig.FromJson(config.ToJson());
        Assert.Equal(config.ToJson(), again.ToJson());
        Assert.Equal(config.DownBlockTypes, again.DownBlockTypes);
        Assert.Equal(config.BlockOutChannels, again.BlockOutChannels);
    }

    [Theory]
    [InlineData("\"down_block_types\": [\"DownResnetBlock1D\", \"DownBlock1D\", \"AttnDownBlock1D\"]", "down_block_types = \"DownResnetBlock1D\"")]
    [InlineData("\"out_block_type\": \"OutConv1DBlock\"", "out_block_type = \"OutConv1DBlock\"")]
    [InlineData("\"use_timestep_embedding\": true", "use_timestep_embedding = true")]
    [InlineData("\"mid_block_type\": \"ValueFunctionMidBlock1D\"", "mid_block_type = \"ValueFunctionMidBlock1D\"")]
    [InlineData("\"extra_in_channels\": 3", "extra_in_channels = 3")]
    [InlineData("\"sample_size\": 1001", "sample_size = 1001")]
    [InlineData("\"dance\": 1", "unknown UNet1DModel key 'dance'")]
    public void Should_NameKeyAndValue_When_ConfigIsUnsupported(string entry, string expected)
    {
        var json = "{\"_class_name\": \"UNet1DModel\", \"in_channels\": 1, \"out_channels\": 1, \"extra_in_channels\": 16, \"sample_size\": 2048, " + entry + "}";
        // Later keys win in the reader, so the entry under test overrides the defaults above.
        var e = Assert.Throws<InvalidInputException>(() => UNet1DConfig.FromJson(json, "x/config.json"));
        Assert.StartsWith("x/config.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Should_RejectAttention_When_ChannelsBelow32()
    {
        var config = new UNet1DConfig { InChannels = 1, OutChannels = 1, ExtraInChannels = 16, SampleSize = 256, BlockOutChannels = [16, 16, 16] };
        var e = Assert.Throws<InvalidInputException>(() => new UNet1DModel(config, Meta));
        Assert.Contains("down_blocks.2.attentions.0", e.Message);
    }

    [Fact]
    public void Should_ReportExit0Then3Then2_When_CheckingTheGoldenFolderWithTheCli()
    {
        var reference = Path.Combine(GoldenDir, "io.safetensors");
        var ok = CliRunner.Run("model", "check", "--model", GoldenDir, "--reference", reference, "--threads", "1");
        Assert.True(ok.ExitCode == 0, ok.StdOut + ok.StdErr);
        Assert.Contains("PASS", ok.StdOut);
        Assert.Contains("mid_block", ok.StdOut);
        var strict = CliRunner.Run("model", "check", "--model", GoldenDir, "--reference", reference, "--tolerance", "1e-12", "--threads", "1");
        Assert.Equal(3, strict.ExitCode);

        // A 2-D reference does not fit a [B, C, L] network: a one-line error naming the file.
        var wrong = Path.Combine(TestPaths.Golden, "unet", "io.safetensors");
        var bad = CliRunner.Run("model", "check", "--model", GoldenDir, "--reference", wrong, "--threads", "1");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("io.safetensors", bad.StdErr);
        Assert.DoesNotContain("   at ", bad.StdErr);
    }
}
