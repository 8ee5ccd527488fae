using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>DiffusionSharp's class-conditional waveform U-Net: architecture, config round trip, save/load, input checks.</summary>
public sealed class AudioUNet1DModelTests(ITestOutputHelper output) : IDisposable
{
    private static readonly Device Meta = new(TorchSharp.DeviceType.META);
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two levels of 32 channels, /2 between them, attention at the lowest: a few thousand parameters.</summary>
    private static AudioUNet1DConfig Tiny(int? classes = 3) => new()
    {
        SampleSize = 64,
        BlockOutChannels = [32, 32],
        DownFactors = [2],
        AttentionLevels = [false, true],
        NormNumGroups = 8,
        NumClassEmbeds = classes is int k ? k + 1 : null,
    };

    private static string ApprovedPath(string name) =>
        Path.Combine(TestPaths.RepoRoot, "tests", "DiffusionSharp.Tests", "Models", "Approved", name + ".state_dict.txt");

    [Fact]
    public void Should_MatchApprovedStateDict_When_BuildingClassConditionalAudioSmall()
    {
        using var model = new AudioUNet1DModel(AudioModelPresets.AudioSmall with { NumClassEmbeds = 11 }, Meta);
        var actual = model.state_dict().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]").Order(StringComparer.Ordinal).ToList();
        var path = ApprovedPath("audio-small-classes-10");
        if (!File.Exists(path))
        {
            File.WriteAllLines(Path.ChangeExtension(path, ".received.txt"), actual);
            Assert.Fail($"no approved file {path}; wrote the received list beside it for review");
        }
        Assert.Equal(File.ReadAllLines(path).Where(l => l.Length > 0), actual);

        var stats = ModelStats.Of(model);
        output.WriteLine($"audio-small: {stats.ParameterCount:N0} parameters, {model.FlopsPerSample([1, 8192]) / 1e9:F3} GFLOPs per 8192-sample clip");
        Assert.InRange(stats.ParameterCount, 1_000_000, 5_000_000);
    }

    [Fact]
    public void Should_CountFlops_As_AQuadraticInTheLength_With_TheQuadraticPartFromAttention()
    {
        // Convolutions and linears are linear in L, attention quadratic: F(L) = a + bL + cL^2, so the third difference vanishes.
        using var model = new AudioUNet1DModel(Tiny(), Meta);
        long F(int length) => model.FlopsPerSample([1, length]);
        Assert.Equal(0, F(256) - 3 * F(192) + 3 * F(128) - F(64));
        var secondDifference = F(192) - 2 * F(128) + F(64);
        Assert.True(secondDifference > 0, "attention contributes a quadratic term");
        // The lowest level's attention runs twice (down and up path), at the mid block's length: three times the mid block's term
        using var midOnly = new AudioUNet1DModel(Tiny() with { AttentionLevels = [false, false] }, Meta);
        long G(int length) => midOnly.FlopsPerSample([1, length]);
        Assert.Equal(secondDifference, 3 * (G(192) - 2 * G(128) + G(64)));
    }

    [Fact]
    public void Should_GiveIdenticalOutputs_When_SavedAndLoadedThroughDenoisers()
    {
        using var model = new AudioUNet1DModel(Tiny(), CPU);
        model.eval();
        var folder = Path.Combine(_dir, "unet");
        model.SavePretrained(folder);
        using var loaded = Denoisers.FromPretrained(folder);
        Assert.IsType<AudioUNet1DModel>(loaded);
        Assert.Equal(model.Config.ToJson(), loaded.Config.ToJson());

        using var g = new TorchSharp.torch.Generator(7);
        using var x = randn([2, 1, 64], generator: g);
        using var t = tensor(new long[] { 10, 900 });
        using var labels = tensor(new long[] { 0, 3 });
        using var condition = new ClassLabelCondition(labels, 3);
        using var _ = inference_mode();
        using var a = model.Forward(x, t, condition);
        using var b = loaded.Forward(x, t, condition);
        Assert.Equal(new long[] { 2, 1, 64 }, a.shape);
        Assert.True(a.allclose(b, rtol: 0, atol: 0), "loaded model differs");
        // The class changes the output: the embedding is wired in
        using var other = new ClassLabelCondition(tensor(new long[] { 1, 2 }), 3);
        using var c = model.Forward(x, t, other);
        Assert.False(a.allclose(c), "class labels have no effect");
    }

    [Fact]
    public void Should_RoundTripConfigJson_And_NameTheKey_When_AValueIsBad()
    {
        var config = Tiny();
        Assert.Equal(config.ToJson(), AudioUNet1DConfig.FromJson(config.ToJson()).ToJson());
        Assert.Contains("\"_class_name\": \"DiffusionSharpUNet1D\"", config.ToJson());

        var bad = """{"_class_name": "DiffusionSharpUNet1D", "sample_size": 64, "block_out_channels": [32, 32], "down_factors": [3], "attention_levels": [false, true]}""";
        var e = Assert.Throws<InvalidInputException>(() => AudioUNet1DConfig.FromJson(bad, "x.json"));
        Assert.Contains("x.json: down_factors = [3]", e.Message);
        var odd = Assert.Throws<InvalidInputException>(() => (config with { SampleSize = 65 }).Validate());
        Assert.Contains("sample_size = 65", odd.Message);
        var unknown = Assert.Throws<InvalidInputException>(() => AudioUNet1DConfig.FromJson("{\"_class_name\": \"DiffusionSharpUNet1D\", \"colour\": 1}"));
        Assert.Contains("unknown DiffusionSharpUNet1D key 'colour'", unknown.Message);
    }

    [Fact]
    public void Should_ScaleAndShiftTheSecondNorm_When_ResnetTimeScaleShiftIsScaleShift()
    {
        var config = Tiny() with { ResnetTimeScaleShift = ResnetTimeScaleShift.ScaleShift };
        Assert.Contains("\"resnet_time_scale_shift\": \"scale_shift\"", config.ToJson());
        var back = AudioUNet1DConfig.FromJson(config.ToJson());
        Assert.Equal((ResnetTimeScaleShift.ScaleShift, config.ToJson()), (back.ResnetTimeScaleShift, back.ToJson()));
        Assert.DoesNotContain("resnet_time_scale_shift", Tiny().ToJson());
        var bad = Assert.Throws<InvalidInputException>(() => AudioUNet1DConfig.FromJson(
            """{"_class_name": "DiffusionSharpUNet1D", "resnet_time_scale_shift": "film"}""", "x.json"));
        Assert.Contains("x.json: resnet_time_scale_shift = \"film\"", bad.Message);

        // Given a default model and a scale-shift one with the same weights except the embedding projections, which give 2x the channels
        using var plain = new AudioUNet1DModel(Tiny(), CPU);
        using var film = new AudioUNet1DModel(config, CPU);
        var plainState = plain.state_dict();
        var filmState = film.state_dict();
        Assert.Equal(new long[] { 64, 128 }, filmState["down_blocks.0.resnets.0.time_emb_proj.weight"].shape);
        using (no_grad())
        {
            foreach (var (name, p) in filmState)
            {
                if (name.Contains("time_emb_proj")) { p.zero_(); plainState[name].zero_(); }
                else p.copy_(plainState[name]);
            }
        }
        plain.eval();
        film.eval();
        using var g = new TorchSharp.torch.Generator(3);
        using var x = randn([2, 1, 64], generator: g);
        using var t = tensor(new long[] { 10, 900 });
        using var condition = new ClassLabelCondition(tensor(new long[] { 0, 2 }), 3);
        using var _ = inference_mode();
        // When the projections give scale 0 and shift 0, Then both compute the same function (norm2(h) * 1 + 0 = norm2(h + 0))
        using var a = plain.Forward(x, t, condition);
        using var b = film.Forward(x, t, condition);
        Assert.True(a.allclose(b, rtol: 1e-5, atol: 1e-6), "scale 0 and shift 0 should be the identity on norm2");
        // When only the scale half of one block's bias is raised, or only the shift half, Then the output moves
        var bias = filmState["mid_block.resnets.0.time_emb_proj.bias"];
        bias[TensorIndex.Slice(0, 32)].fill_(1.0);
        using var scaled = film.Forward(x, t, condition);
        Assert.False(scaled.allclose(b, rtol: 1e-4, atol: 1e-5), "the scale has no effect");
        bias[TensorIndex.Slice(0, 32)].fill_(0.0);
        bias[TensorIndex.Slice(32, 64)].fill_(1.0);
        using var shifted = film.Forward(x, t, condition);
        Assert.False(shifted.allclose(b, rtol: 1e-4, atol: 1e-5), "the shift has no effect");
        Assert.False(shifted.allclose(scaled, rtol: 1e-4, atol: 1e-5), "scale and shift act alike");
    }

    [Fact]
    public void Should_RejectLengthsAndLabelsThatDoNotFit()
    {
        using var model = new AudioUNet1DModel(Tiny(), CPU);
        using var odd = zeros(1, 1, 63);
        using var t = tensor(5L);
        Assert.Contains("multiple of 2", Assert.Throws<ArgumentException>(() => model.forward(odd, t, tensor(new long[] { 0 }))).Message);
        using var x = zeros(1, 1, 64);
        using var none = new NoCondition(1);
        Assert.Contains("class labels are required", Assert.Throws<ArgumentException>(() => model.Forward(x, t, none)).Message);
        using var unconditional = new AudioUNet1DModel(Tiny(classes: null), CPU);
        Assert.Equal(0, unconditional.Config.NumClasses);
        using var y = unconditional.Forward(x, t, none);
        Assert.Equal(new long[] { 1, 1, 64 }, y.shape);
    }

    [Fact]
    public void Should_SeeAClipAsFramesOfPSamples_And_UnfoldThemBack_When_PatchSizeIsSet()
    {
        // Given a clip whose samples are their own indices
        using var clip = arange(2 * 16, dtype: float32).reshape(1, 2, 16);

        // When it is cut into patches of 4 and put back
        using var patches = AudioUNet1DModel.ToPatches(clip, 4);
        using var back = AudioUNet1DModel.FromPatches(patches, 4);

        // Then frame n of channel c holds samples 4n..4n+3 of that channel, one per patch channel, and nothing is lost
        Assert.Equal(new long[] { 1, 8, 4 }, patches.shape);
        var p = patches.data<float>().ToArray(); // [1, 8, 4]: patch channel j, frame n at j * 4 + n
        Assert.Equal(new float[] { 4, 5, 6, 7 }, Enumerable.Range(0, 4).Select(j => p[j * 4 + 1]).ToArray());
        Assert.Equal(new float[] { 16 + 8, 16 + 9, 16 + 10, 16 + 11 }, Enumerable.Range(4, 4).Select(j => p[j * 4 + 2]).ToArray());
        Assert.Equal(clip.data<float>().ToArray(), back.data<float>().ToArray());
    }

    [Fact]
    public void Should_RunAtLengthOverP_And_KeepTheClipLength_When_PatchSizeIs4()
    {
        // Given a patched tiny model (frames of 4, then /2) and the same model without patches
        var config = Tiny() with { PatchSize = 4 };
        using var model = new AudioUNet1DModel(config, CPU);
        model.eval();
        using var plain = new AudioUNet1DModel(Tiny(), Meta);

        // When a 64-sample clip goes through it, and through a saved and reloaded copy
        using var g = new TorchSharp.torch.Generator(3);
        using var x = randn([2, 1, 64], generator: g);
        using var t = tensor(new long[] { 10, 900 });
        using var labels = tensor(new long[] { 0, 3 });
        using var condition = new ClassLabelCondition(labels, 3);
        var folder = Path.Combine(_dir, "patched");
        model.SavePretrained(folder);
        using var loaded = Denoisers.FromPretrained(folder);
        using var _ = inference_mode();
        using var a = model.Forward(x, t, condition);
        using var b = loaded.Forward(x, t, condition);

        // Then the output is a clip of the same length, the reload is exact, the config keeps the key,
        // lengths must be multiples of 4 x 2, and the first level costs a quarter of the plain model's FLOPs
        Assert.Equal(new long[] { 2, 1, 64 }, a.shape);
        Assert.True(a.allclose(b, rtol: 0, atol: 0), "reloaded patched model differs");
        Assert.Contains("\"patch_size\": 4", config.ToJson());
        Assert.DoesNotContain("patch_size", Tiny().ToJson());
        Assert.Equal(8, config.Downsampling);
        using var odd = zeros(1, 1, 60);
        Assert.Contains("multiple of 8 (patches of 4, then 2)", Assert.Throws<ArgumentException>(() => model.forward(odd, t[..1], labels[..1])).Message);
        Assert.True(model.FlopsPerSample([1, 64]) < plain.FlopsPerSample([1, 64]) / 3, "patched model is not cheaper");
        var bad = Assert.Throws<InvalidInputException>(() => (Tiny() with { PatchSize = 3 }).Validate("c.json"));
        Assert.Contains("c.json: patch_size = 3 is not supported", bad.Message);
    }

    [Fact]
    public void Should_BuildAudioPatch4_For8192SampleClips_WithoutAFullRateLevel()
    {
        using var model = new AudioUNet1DModel(AudioModelPresets.Find("audio-patch4")! with { NumClassEmbeds = 11 }, Meta);
        using var small = new AudioUNet1DModel(AudioModelPresets.AudioSmall with { NumClassEmbeds = 11 }, Meta);
        output.WriteLine($"audio-patch4: {ModelStats.Of(model).ParameterCount:N0} parameters, {model.FlopsPerSample([1, 8192]) / 1e9:F3} GFLOPs per clip; "
            + $"audio-small: {ModelStats.Of(small).ParameterCount:N0}, {small.FlopsPerSample([1, 8192]) / 1e9:F3}");
        Assert.Equal(8192, model.Config.SampleSize);
        Assert.Equal(new long[] { 64, 4, 7 }, model.state_dict()["conv_in.weight"].shape);
        Assert.True(model.FlopsPerSample([1, 8192]) < small.FlopsPerSample([1, 8192]), "audio-patch4 is not cheaper than audio-small");
    }
}
