using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models.Autoencoders;

/// <summary>Architecture checks on shape-only (meta device) autoencoders: state-dict keys and shapes against approved lists, FLOPs by hand.</summary>
public sealed class AutoencoderArchitectureTests(ITestOutputHelper output)
{
    private static readonly Device Meta = new(TorchSharp.DeviceType.META);

    private static string ApprovedPath(string name) =>
        Path.Combine(TestPaths.RepoRoot, "tests", "DiffusionSharp.Tests", "Models", "Approved", name + ".state_dict.txt");

    private static List<string> KeyShapeList(nn.Module model) =>
        model.state_dict().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]").Order(StringComparer.Ordinal).ToList();

    private static List<string> Approved(string name) => File.ReadAllLines(ApprovedPath(name)).Where(l => l.Length > 0).ToList();

    private static IAutoencoder Build(string folder) => Path.GetFileName(folder) switch
    {
        "vae_kl" => new AutoencoderKL(AutoencoderKLConfig.Load(Path.Combine(folder, "config.json")), Meta),
        _ => new AutoencoderTiny(AutoencoderTinyConfig.Load(Path.Combine(folder, "config.json")), Meta),
    };

    [Theory]
    [InlineData("vae_kl")]
    [InlineData("vae_tiny")]
    public void Should_HaveDiffusersStateDict_When_BuildingGoldenConfig(string folder)
    {
        // The approved lists are the key/shape lists of the diffusers-written golden weights files.
        using var model = Build(Path.Combine(TestPaths.Golden, folder));
        var actual = KeyShapeList(model.Module);
        var approved = Approved("golden-" + folder);
        Assert.True(approved.SequenceEqual(actual),
            $"state dict differs: missing [{string.Join("; ", approved.Except(actual).Take(10))}] extra [{string.Join("; ", actual.Except(approved).Take(10))}]");
    }

    [Theory]
    [InlineData("vae_kl")]
    [InlineData("vae_tiny")]
    public void Should_MatchApprovedFile_When_ApprovedFileIsTheGoldenWeightsHeader(string folder)
    {
        var header = SafetensorsFile.ReadHeader(Path.Combine(TestPaths.Golden, folder, UNet2DModel.WeightsFileName));
        var fromDiffusers = header.Tensors.Values.Select(t => $"{t.Name} [{string.Join(", ", t.Shape)}]").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Approved("golden-" + folder), fromDiffusers);
    }

    [Fact]
    public void Should_MatchApprovedStateDict_When_BuildingRgb64Preset()
    {
        using var model = new AutoencoderKL(AutoencoderPresets.KLRgb64, Meta);
        var path = ApprovedPath("kl-rgb64-f4");
        if (!File.Exists(path))
        {
            File.WriteAllLines(Path.ChangeExtension(path, ".received.txt"), KeyShapeList(model));
            Assert.Fail($"no approved file {path}; wrote the received list beside it for review");
        }
        Assert.Equal(Approved("kl-rgb64-f4"), KeyShapeList(model));
    }

    [Fact]
    public void Should_Have2702087ParametersAnd16x16x4Latents_When_BuildingRgb64Preset()
    {
        using var model = new AutoencoderKL(AutoencoderPresets.KLRgb64, Meta);
        var parameters = model.parameters().Sum(p => p.numel());
        var encode = model.EncodeFlops(64, 64);
        var decode = model.DecodeFlops(64, 64);
        output.WriteLine($"kl-rgb64-f4: {parameters:N0} parameters, encode {encode / 1e9:F3} GFLOPs, decode {decode / 1e9:F3} GFLOPs per 64x64 image");
        Assert.Equal(2_702_087, parameters);
        Assert.Equal(4, model.DownsamplingFactor);
        // The meta device has no convolution kernels: run the shape check on a real (CPU) copy.
        using var cpu = new AutoencoderKL(AutoencoderPresets.KLRgb64);
        using var mode = inference_mode();
        using var x = zeros(1, 3, 64, 64);
        using var posterior = cpu.Encode(x);
        Assert.Equal([1L, 4, 16, 16], posterior.Mean.shape);
        using var decoded = cpu.Decode(posterior.Mean);
        Assert.Equal([1L, 3, 64, 64], decoded.shape);
        Assert.Equal(804_552_704, encode);
        Assert.Equal(2_073_042_944, decode);
    }

    [Fact]
    public void Should_CountFlopsByHand_When_KLHasOneLevelWithMidAttention()
    {
        // Given one level of 8 channels on a 4x4 image (16 positions), latent 4, no quant convs: every conv is 2·Cin·Cout·9·16.
        var config = new AutoencoderKLConfig
        {
            InChannels = 3, OutChannels = 3, BlockOutChannels = [8], LayersPerBlock = 1, LatentChannels = 4, NormNumGroups = 4,
            UseQuantConv = false, UsePostQuantConv = false,
        };
        using var model = new AutoencoderKL(config, Meta);
        long Conv(long cin, long cout) => 2 * cin * cout * 9 * 16;
        // Single-head attention over 16 tokens of 8 channels: q, k, v, out projections plus QK^T and AV.
        long attention = 4 * (2 * 8 * 8 * 16) + 2 * (2 * 16 * 16 * 8);
        long resnet = 2 * Conv(8, 8);
        long encoder = Conv(3, 8) + resnet + (2 * resnet + attention) + Conv(8, 8);
        long decoder = Conv(4, 8) + (2 * resnet + attention) + 2 * resnet + Conv(8, 3);
        Assert.Equal(encoder, model.EncodeFlops(4, 4));
        Assert.Equal(decoder, model.DecodeFlops(4, 4));
    }

    [Fact]
    public void Should_CountFlopsByHand_When_TinyHasTwoStages()
    {
        // Given TAESD with two stages of 8 channels, one block each, latent 2, on an 8x8 image (latent 4x4).
        var config = new AutoencoderTinyConfig
        {
            EncoderBlockOutChannels = [8, 8], DecoderBlockOutChannels = [8, 8], NumEncoderBlocks = [1, 1], NumDecoderBlocks = [1, 1], LatentChannels = 2,
        };
        using var model = new AutoencoderTiny(config, Meta);
        long Conv(long cin, long cout, long pixels) => 2 * cin * cout * 9 * pixels;
        long encoder = Conv(3, 8, 64) + 3 * Conv(8, 8, 64) + Conv(8, 8, 16) + 3 * Conv(8, 8, 16) + Conv(8, 2, 16);
        long decoder = Conv(2, 8, 16) + 3 * Conv(8, 8, 16) + Conv(8, 8, 64) + 3 * Conv(8, 8, 64) + Conv(8, 3, 64);
        Assert.Equal(2, model.DownsamplingFactor);
        Assert.Equal(encoder, model.EncodeFlops(8, 8));
        Assert.Equal(decoder, model.DecodeFlops(8, 8));
    }
}
