using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>Architecture checks of UNet2DConditionModel on shape-only (meta device) models: state-dict keys and shapes, published parameter counts, FLOPs.</summary>
public sealed class UNet2DConditionArchitectureTests(ITestOutputHelper output)
{
    private static readonly Device Meta = new(TorchSharp.DeviceType.META);

    private static string ApprovedPath => Path.Combine(TestPaths.RepoRoot, "tests", "DiffusionSharp.Tests", "Models", "Approved",
        "golden-unet2d-condition.state_dict.txt");

    private static List<string> Approved => File.ReadAllLines(ApprovedPath).Where(l => l.Length > 0).ToList();

    [Fact]
    public void Should_MatchApprovedFile_When_ApprovedFileIsTheGoldenWeightsHeader()
    {
        // The approved list is the key/shape list of the diffusers-written golden weights (494 tensors).
        var header = SafetensorsFile.ReadHeader(Path.Combine(TestPaths.Golden, "unet2d_condition", UNet2DModel.WeightsFileName));
        var fromDiffusers = header.Tensors.Values.Select(t => $"{t.Name} [{string.Join(", ", t.Shape)}]").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(494, fromDiffusers.Count);
        Assert.Equal(Approved, fromDiffusers);
    }

    [Fact]
    public void Should_HaveDiffusersStateDict_When_BuildingGoldenConfig()
    {
        var config = UNet2DConditionConfig.Load(Path.Combine(TestPaths.Golden, "unet2d_condition", "config.json"));
        using var model = new UNet2DConditionModel(config, Meta);
        var keys = model.state_dict().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]").Order(StringComparer.Ordinal).ToList();
        var missing = Approved.Except(keys).ToList();
        var extra = keys.Except(Approved).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"missing [{string.Join("; ", missing.Take(10))}] extra [{string.Join("; ", extra.Take(10))}]");
        Assert.Equal(1_388_548, ModelStats.Of(config).ParameterCount);
    }

    [Theory]
    [InlineData("sd15", 859_520_964)]
    [InlineData("sd21", 865_910_724)]
    public void Should_HavePublishedParameterCount_When_BuildingStableDiffusionUNet(string preset, long expected)
    {
        var config = UNet2DConditionPresets.Get(preset);
        var stats = ModelStats.Of(config, [4, 64, 64]);
        output.WriteLine($"{preset}: {stats.ParameterCount:N0} parameters, {stats.GFlopsPerSample:F1} GFLOPs per 64x64x4 latent (77 context tokens)");
        Assert.Equal(expected, stats.ParameterCount);

        // And 77 more context tokens cost, in each of the 16 Transformer2DModels (5 at 64x64x320, 5 at 32x32x640, 5 at 16x16x1280,
        // 1 in the 8x8x1280 mid block), the k and v projections (2 x 2DC per token) and the QK^T and AV products (2 x 2NC per token)
        using var model = new UNet2DConditionModel(config, Meta);
        long d = config.CrossAttentionDim;
        (long N, long C, long Count)[] transformers = [(4096, 320, 5), (1024, 640, 5), (256, 1280, 5), (64, 1280, 1)];
        long perToken = transformers.Sum(x => x.Count * (4 * d * x.C + 4 * x.N * x.C));
        Assert.Equal(stats.FlopsPerSample, model.FlopsPerImage(64, 64, 77));
        Assert.Equal(77 * perToken, model.FlopsPerImage(64, 64, 154) - model.FlopsPerImage(64, 64, 77));
    }

    [Fact]
    public void Should_BuildTextTinyPreset_When_AskedByName()
    {
        var stats = ModelStats.Of(UNet2DConditionPresets.Get("TEXT-TINY"));
        output.WriteLine($"text-tiny: {stats.ParameterCount:N0} parameters, {stats.GFlopsPerSample:F3} GFLOPs per 16x16x4 latent");
        Assert.Equal([4, 16, 16], stats.SampleShape);
        Assert.InRange(stats.ParameterCount, 5_000_000, 30_000_000);
        Assert.Throws<InvalidInputException>(() => UNet2DConditionPresets.Get("sd99"));
    }

    [Fact]
    public void Should_CountFlopsByHand_When_ModelHasOneCrossAttentionLevel()
    {
        // Given one level of 32 channels (CrossAttnDownBlock2D, CrossAttnUpBlock2D, no mid block), 2 heads, context width 8
        var config = new UNet2DConditionConfig
        {
            BlockOutChannels = [32],
            DownBlockTypes = [CrossAttnDownBlockType.CrossAttnDownBlock2D],
            UpBlockTypes = [CrossAttnUpBlockType.CrossAttnUpBlock2D],
            MidBlockType = CrossAttnMidBlockType.None,
            LayersPerBlock = 1,
            AttentionHeadDim = [2],
            CrossAttentionDim = 8,
            NormNumGroups = 8,
        };
        using var model = new UNet2DConditionModel(config, Meta);

        // When FLOPs are counted for a 4x4 sample (N = 16 tokens) and L = 3 context tokens
        const long n = 16, c = 32, l = 3, d = 8, temb = 128;
        long Conv(long i, long o, long k) => 2 * i * o * k * k * n;
        long Linear(long i, long o, long tokens) => 2 * i * o * tokens;
        long transformer = Linear(c, c, n)                                                                        // proj_in (1x1 conv)
            + 4 * Linear(c, c, n) + 2 * (2 * n * n * c)                                                            // attn1: q, k, v, out; QK^T, AV
            + 2 * Linear(c, c, n) + 2 * Linear(d, c, l) + 2 * (2 * n * l * c)                                      // attn2: q, out; k, v of the context
            + Linear(c, 8 * c, n) + Linear(4 * c, c, n)                                                            // GEGLU proj, ff.net.2
            + Linear(c, c, n);                                                                                     // proj_out
        long resnet(long i) => Conv(i, c, 3) + Conv(c, c, 3) + Linear(temb, c, 1) + (i != c ? Conv(i, c, 1) : 0);
        long expected = Conv(4, c, 3) + Linear(c, temb, 1) + Linear(temb, temb, 1)                                // conv_in, time embedding
            + resnet(c) + transformer                                                                              // down
            + 2 * (resnet(2 * c) + transformer)                                                                    // up: 2 resnets over [h, skip]
            + Conv(c, 4, 3);                                                                                       // conv_out

        // Then they are the hand count: 4,721,664
        Assert.Equal(4_721_664, expected);
        Assert.Equal(expected, model.FlopsPerImage(4, 4, 3));
    }
}
