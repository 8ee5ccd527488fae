using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>Architecture checks on shape-only (meta device) models: state-dict keys and shapes, parameter counts, FLOPs.</summary>
public sealed class UNet2DModelArchitectureTests(ITestOutputHelper output)
{
    private static readonly Device Meta = new(TorchSharp.DeviceType.META);

    private static string ApprovedPath(string name) =>
        Path.Combine(TestPaths.RepoRoot, "tests", "DiffusionSharp.Tests", "Models", "Approved", name + ".state_dict.txt");

    private static List<string> KeyShapeList(UNet2DModel model) =>
        model.state_dict().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]").Order(StringComparer.Ordinal).ToList();

    private static void AssertApproved(string name, List<string> actual)
    {
        var path = ApprovedPath(name);
        if (!File.Exists(path))
        {
            File.WriteAllLines(Path.ChangeExtension(path, ".received.txt"), actual);
            Assert.Fail($"no approved file {path}; wrote the received list beside it for review");
        }
        var approved = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        var missing = approved.Except(actual).ToList();
        var extra = actual.Except(approved).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"state dict differs from {name}: missing [{string.Join("; ", missing.Take(10))}] extra [{string.Join("; ", extra.Take(10))}]");
    }

    [Fact]
    public void Should_HaveDiffusersStateDict_When_BuildingGoldenConfig()
    {
        // The approved list is the key/shape list of the diffusers-written golden weights file.
        var config = UNet2DConfig.Load(Path.Combine(TestPaths.Golden, "unet", "config.json"));
        using var model = new UNet2DModel(config, Meta);
        AssertApproved("golden-unet", KeyShapeList(model));
    }

    [Fact]
    public void Should_MatchApprovedFile_When_ApprovedFileIsTheGoldenWeightsHeader()
    {
        var header = SafetensorsFile.ReadHeader(Path.Combine(TestPaths.Golden, "unet", UNet2DModel.WeightsFileName));
        var fromDiffusers = header.Tensors.Values.Select(t => $"{t.Name} [{string.Join(", ", t.Shape)}]").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(File.ReadAllLines(ApprovedPath("golden-unet")).Where(l => l.Length > 0), fromDiffusers);
    }

    [Fact]
    public void Should_MatchApprovedStateDict_When_BuildingMnistSmall()
    {
        using var model = new UNet2DModel(ModelPresets.MnistSmall, Meta);
        AssertApproved("mnist-small", KeyShapeList(model));
    }

    [Fact]
    public void Should_Have35746307Parameters_When_BuildingCifar10Ddpm()
    {
        var stats = ModelStats.Of(ModelPresets.Cifar10Ddpm);
        output.WriteLine($"cifar10-ddpm: {stats.ParameterCount:N0} params, {stats.GFlopsPerSample:F3} GFLOPs/image");
        Assert.Equal(35_746_307, stats.ParameterCount);
        Assert.Equal(35_746_307L * 4, stats.ParameterBytes);
        Assert.Equal(ScalarType.Float32, stats.WeightDType);
    }

    [Theory]
    [InlineData("unet", 701_345)]
    [InlineData("unet_ddpmstyle", 168_563)]
    public void Should_CountParametersLikeDiffusers_When_BuildingGoldenConfigs(string folder, long expected)
    {
        var stats = ModelStats.Of(UNet2DConfig.Load(Path.Combine(TestPaths.Golden, folder, "config.json")));
        Assert.Equal(expected, stats.ParameterCount);
    }

    [Fact]
    public void Should_CountFlopsByHand_When_ModelHasTwoLevelsWithAttentionAndResampling()
    {
        // Given a two-level model on 8x8 samples: a plain level of 8 channels with a downsampling conv, an attention level
        // of 16 channels, the mid block, and the mirrored up path (attention level with an upsampling conv, then plain).
        var config = new UNet2DConfig
        {
            SampleSize = 8, InChannels = 1, OutChannels = 1, BlockOutChannels = [8, 16], LayersPerBlock = 1, NormNumGroups = 4,
            AttentionHeadDim = 4,
            DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D],
            UpBlockTypes = [UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D],
        };
        using var model = new UNet2DModel(config, Meta);

        // A k x k conv from i to o channels on p output pixels is 2·i·o·k²·p FLOPs; a linear layer 2·in·out per token.
        static long Conv(long i, long o, long k, long pixels) => 2 * i * o * k * k * pixels;
        const long temb = 32;                                   // time embedding: 4 x block_out_channels[0]
        // A resnet: two 3x3 convs, the time-embedding projection to o, a 1x1 shortcut when i != o.
        static long Resnet(long i, long o, long pixels) =>
            Conv(i, o, 3, pixels) + Conv(o, o, 3, pixels) + 2 * temb * o + (i != o ? Conv(i, o, 1, pixels) : 0);
        // Attention over n tokens of c channels (heads x head_dim = c): q, k, v and out projections, then QK^T and AV.
        static long Attention(long c, long n) => 4 * 2 * c * c * n + 2 * (2 * n * n * c);
        long big = 8 * 8, small = 4 * 4;

        long expected =
            2 * (8 * temb + temb * temb)                        // time MLP: linear 8->32, linear 32->32
            + Conv(1, 8, 3, big)                                // conv_in
            + Resnet(8, 8, big) + Conv(8, 8, 3, small)          // down 0: resnet, stride-2 downsample conv (8x8 -> 4x4)
            + Resnet(8, 16, small) + Attention(16, small)       // down 1: resnet with shortcut, attention
            + 2 * Resnet(16, 16, small) + Attention(16, small)  // mid: resnet, attention, resnet
            // up 0 at 4x4: resnets over [h 16 + skip 16] and [h 16 + skip 8], each with attention; upsample conv at 8x8
            + Resnet(32, 16, small) + Attention(16, small) + Resnet(24, 16, small) + Attention(16, small) + Conv(16, 16, 3, big)
            // up 1 at 8x8: resnets over [h 16 + skip 8] and [h 8 + skip 8]
            + Resnet(24, 8, big) + Resnet(16, 8, big)
            + Conv(8, 1, 3, big);                               // conv_out

        // Then the model's count is the hand count, the same whichever way it is asked for
        Assert.Equal(2_085_888, expected);
        Assert.Equal(expected, model.FlopsPerImage(8, 8));
        Assert.Equal(expected, model.FlopsPerSample([1, 8, 8]));
        Assert.Equal(expected, ModelStats.Of(config).FlopsPerSample);
        Assert.Equal([1, 8, 8], ModelStats.Of(config).SampleShape);
    }

    [Fact]
    public void Should_CountConvFlopsExactly_When_ModelIsTiny()
    {
        // Hand count for a one-level model: conv_in + resnet(2 convs) + mid(2 resnets + attention) + up resnet(2 convs + 1x1 shortcut) + conv_out + MLP.
        var config = new UNet2DConfig
        {
            InChannels = 1, OutChannels = 1, BlockOutChannels = [8], LayersPerBlock = 1, NormNumGroups = 4, AttentionHeadDim = 4,
            DownBlockTypes = [DownBlockType.DownBlock2D], UpBlockTypes = [UpBlockType.UpBlock2D],
        };
        using var model = new UNet2DModel(config, Meta);
        long hw = 16;
        long conv(long i, long o, long k) => 2 * i * o * k * k * hw;
        long resnet(long i, long o) => conv(i, o, 3) + conv(o, o, 3) + 2 * 32 * o + (i != o ? conv(i, o, 1) : 0);
        var attention = 4 * 2 * 8 * 8 * hw + 2 * 2 * hw * hw * 8;
        var mlp = 2 * (8 * 32 + 32 * 32);
        var expected = conv(1, 8, 3) + mlp + resnet(8, 8) + (2 * resnet(8, 8) + attention) + 2 * resnet(16, 8) + conv(8, 1, 3);
        Assert.Equal(expected, model.FlopsPerImage(4, 4));
    }
}
