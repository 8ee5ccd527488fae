using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models.Autoencoders;

/// <summary>FromPretrained / SavePretrained of the autoencoders: round trips, half-precision weights, strict errors, latent helpers, leaks.</summary>
public sealed class AutoencoderPretrainedTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Golden(string name) => Path.Combine(TestPaths.Golden, name);

    private static Tensor Sample() => SafetensorsFile.Load(Path.Combine(Golden("vae_kl"), "io.safetensors"))["sample"];

    [Theory]
    [InlineData("vae_kl")]
    [InlineData("vae_tiny")]
    public void Should_GiveIdenticalOutputs_When_SavedAndLoadedAgain(string folder)
    {
        using var original = AutoencoderLoader.FromPretrained(Golden(folder));
        var saved = Path.Combine(_dir, folder);
        original.SavePretrained(saved);
        using var reloaded = AutoencoderLoader.FromPretrained(saved);
        Assert.Equal(original.ConfigJson(), reloaded.ConfigJson());
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var x = Sample();
        Assert.True(original.Reconstruct(x).allclose(reloaded.Reconstruct(x), rtol: 0, atol: 0), "reloaded model's forward differs");
        Assert.True(original.ImageToLatents(x).allclose(reloaded.ImageToLatents(x), rtol: 0, atol: 0), "reloaded model's latents differ");
    }

    [Fact]
    public void Should_LoadHalfPrecisionWeightsAsFloat32_When_FolderHoldsFp16()
    {
        var half = Path.Combine(_dir, "half");
        Directory.CreateDirectory(half);
        File.Copy(Path.Combine(Golden("vae_kl"), "config.json"), Path.Combine(half, "config.json"));
        var weights = SafetensorsFile.Load(Path.Combine(Golden("vae_kl"), UNet2DModel.WeightsFileName));
        var halves = weights.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float16));
        SafetensorsFile.Save(Path.Combine(half, UNet2DModel.WeightsFileName), halves);

        using var model = AutoencoderKL.FromPretrained(half);
        foreach (var (name, p) in model.state_dict())
        {
            Assert.Equal(ScalarType.Float32, p.dtype);
            Assert.True(p.allclose(halves[name].to_type(ScalarType.Float32), rtol: 0, atol: 0), $"{name} is not the float16 value widened");
        }
        foreach (var t in weights.Values.Concat(halves.Values)) t.Dispose();
    }

    [Fact]
    public void Should_NameMissingAndWrongShapeWeights_When_WeightsDoNotFitConfig()
    {
        var bad = Path.Combine(_dir, "bad");
        Directory.CreateDirectory(bad);
        File.Copy(Path.Combine(Golden("vae_kl"), "config.json"), Path.Combine(bad, "config.json"));
        var weights = SafetensorsFile.Load(Path.Combine(Golden("vae_kl"), UNet2DModel.WeightsFileName));
        weights.Remove("quant_conv.bias", out var removed);
        removed!.Dispose();
        weights["post_quant_conv.weight"] = zeros(4, 4, 3, 3);
        SafetensorsFile.Save(Path.Combine(bad, UNet2DModel.WeightsFileName), weights);
        var e = Assert.Throws<InvalidInputException>(() => AutoencoderKL.FromPretrained(bad));
        Assert.Contains("quant_conv.bias", e.Message);
        Assert.Contains("post_quant_conv.weight [4, 4, 3, 3]", e.Message);
        foreach (var t in weights.Values) t.Dispose();
    }

    [Fact]
    public void Should_LoadVaeSubfolder_When_GivenPipelineFolder()
    {
        var pipeline = Path.Combine(TestPaths.Golden, "sd_chain");
        using var model = AutoencoderLoader.FromPretrained(pipeline);
        Assert.IsType<AutoencoderKL>(model);
        Assert.False(AutoencoderLoader.IsAutoencoderFolder(pipeline));
        Assert.True(AutoencoderLoader.IsAutoencoderFolder(Path.Combine(pipeline, "vae")));
    }

    [Fact]
    public void Should_RefuseWithClearError_When_FolderHasNoWeights()
    {
        File.Copy(Path.Combine(Golden("vae_tiny"), "config.json"), Path.Combine(_dir, "config.json"));
        var e = Assert.Throws<InvalidInputException>(() => AutoencoderLoader.FromPretrained(_dir));
        Assert.Contains(UNet2DModel.WeightsFileName, e.Message);
    }

    [Fact]
    public void Should_InvertScaling_When_ShiftAndScaleAreSet()
    {
        // Given z, ScaleLatents gives (z - shift) * scale exactly as written, and UnscaleLatents gives z back.
        var config = new AutoencoderKLConfig { BlockOutChannels = [8], NormNumGroups = 4, ScalingFactor = 0.5, ShiftFactor = 0.25 };
        using var model = new AutoencoderKL(config);
        using var scope = NewDisposeScope();
        var z = tensor(new float[] { -1f, 0f, 0.25f, 3f }).reshape(1, 4, 1, 1);
        var scaled = model.ScaleLatents(z);
        Assert.Equal(new float[] { -0.625f, -0.125f, 0f, 1.375f }, scaled.data<float>().ToArray());
        Assert.True(model.UnscaleLatents(scaled).allclose(z, rtol: 0, atol: 1e-7));
    }

    [Fact]
    public void Should_BeDeterministicPerSeedAndDrawFromThePosterior_When_SamplingLatents()
    {
        using var model = AutoencoderKL.FromPretrained(Golden("vae_kl"));
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var x = Sample();
        var a = model.ImageToLatents(x, new Generator(7));
        var b = model.ImageToLatents(x, new Generator(7));
        var c = model.ImageToLatents(x, new Generator(8));
        var m = model.ImageToLatents(x);
        Assert.True(a.allclose(b, rtol: 0, atol: 0), "same seed, different latents");
        Assert.False(a.allclose(c, rtol: 0, atol: 0), "different seeds, same latents");
        using var posterior = model.Encode(x);
        // With the 0.18215 scaling, (sample - mode) / scale / std must look standard normal: mean ~ 0, std ~ 1 over 2048 values.
        var eps = (a - m) / model.Config.ScalingFactor / posterior.Std;
        Assert.InRange(eps.mean().item<float>(), -0.1f, 0.1f);
        Assert.InRange(eps.std().item<float>(), 0.9f, 1.1f);
    }

    [Fact]
    public void Should_GiveClosedFormKl_When_PosteriorIsKnown()
    {
        using var scope = NewDisposeScope();
        // mean 0, logvar 0: N(0, 1) itself, KL 0. mean 1, logvar 0: 0.5 per element, 8 elements per item.
        using var standard = new DiagonalGaussianDistribution(zeros(2, 8, 2, 2));
        Assert.Equal(new float[] { 0f, 0f }, standard.KlToStandardNormal().data<float>().ToArray());
        using var shifted = new DiagonalGaussianDistribution(cat([ones(2, 4, 1, 2), zeros(2, 4, 1, 2)], 1));
        Assert.Equal(new float[] { 4f, 4f }, shifted.KlToStandardNormal().data<float>().ToArray());
        // logvar is clamped at 20 as in diffusers.
        using var wide = new DiagonalGaussianDistribution(full(1, 2, 1, 1, 100f));
        Assert.Equal(20f, wide.LogVar.item<float>());
    }

    [Fact]
    public void Should_NotLeakTensors_When_RunningInAScope()
    {
        using var kl = new AutoencoderKL(new AutoencoderKLConfig { BlockOutChannels = [8, 8], NormNumGroups = 4 });
        using var tiny = new AutoencoderTiny(new AutoencoderTinyConfig { EncoderBlockOutChannels = [8, 8], DecoderBlockOutChannels = [8, 8], NumEncoderBlocks = [1, 1], NumDecoderBlocks = [1, 1] });
        using var mode = inference_mode();
        using var x = rand(1, 3, 8, 8);
        using (var warm = kl.forward(x)) { }
        using (var warm = tiny.forward(x)) { }
        var before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            kl.forward(x);
            kl.ImageToLatents(x, new Generator(1));
            using (kl.Encode(x)) { }
            tiny.forward(x);
            tiny.LatentsToImage(tiny.ImageToLatents(x));
        }
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
