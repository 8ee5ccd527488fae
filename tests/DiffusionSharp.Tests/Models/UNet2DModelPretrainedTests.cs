using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>FromPretrained / SavePretrained: round trips, dtype conversion, legacy names, and the strict errors.</summary>
public sealed class UNet2DModelPretrainedTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    private static readonly UNet2DConfig Tiny = new()
    {
        SampleSize = 8, InChannels = 1, OutChannels = 1, LayersPerBlock = 1, BlockOutChannels = [8, 16], NormNumGroups = 4, AttentionHeadDim = 4,
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D], UpBlockTypes = [UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D],
    };

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static UNet2DModel NewTiny()
    {
        manual_seed(1234);
        var model = new UNet2DModel(Tiny);
        model.eval();
        return model;
    }

    private static Tensor Run(UNet2DModel model)
    {
        using var _ = inference_mode();
        var g = new TorchSharp.torch.Generator(7);
        var x = randn([2, 1, 8, 8], generator: g);
        return model.forward(x, tensor(new long[] { 3, 900 }));
    }

    private string SaveWith(UNet2DModel model, Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>> edit, string? folder = null)
    {
        var dir = folder ?? Path.Combine(_dir, "m" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, UNet2DModel.ConfigFileName), model.Config.ToJson());
        var tensors = edit(model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach()));
        SafetensorsFile.Save(Path.Combine(dir, UNet2DModel.WeightsFileName), tensors);
        return dir;
    }

    [Fact]
    public void Should_GiveIdenticalOutputs_When_SavedAndReloaded()
    {
        using var model = NewTiny();
        model.SavePretrained(_dir);
        using var loaded = UNet2DModel.FromPretrained(_dir);
        using var a = Run(model);
        using var b = Run(loaded);
        Assert.True(a.equal(b).all().item<bool>());
        Assert.Equal(model.Config.ToJson(), loaded.Config.ToJson());
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
        Assert.Contains("\"_class_name\": \"UNet2DModel\"", File.ReadAllText(Path.Combine(_dir, "config.json")));
    }

    [Theory]
    [InlineData(ScalarType.Float16, 2e-3)]
    [InlineData(ScalarType.BFloat16, 2e-2)]
    [InlineData(ScalarType.Float64, 1e-6)]
    public void Should_LoadAsFloat32_When_WeightsAreStoredInOtherFloatTypes(ScalarType dtype, double tolerance)
    {
        using var model = NewTiny();
        var dir = SaveWith(model, d => d.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(dtype)));
        Assert.All(SafetensorsFile.ReadHeader(Path.Combine(dir, UNet2DModel.WeightsFileName)).Tensors.Values, t => Assert.Equal(dtype, t.ScalarType));
        using var loaded = UNet2DModel.FromPretrained(dir);
        Assert.All(loaded.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        using var a = Run(model);
        using var b = Run(loaded);
        var err = (a - b).abs().max().item<float>();
        var scale = Math.Max(1.0, a.abs().max().item<float>());
        output.WriteLine($"{dtype}: max abs err {err:E2} (output scale {scale:F2})");
        Assert.True(err <= tolerance * scale, $"{dtype}: {err} > {tolerance * scale}");
    }

    [Fact]
    public void Should_RenameLegacyAttentionWeights_When_FileUsesQueryKeyValueProjAttn()
    {
        using var model = NewTiny();
        var dir = SaveWith(model, d => d.ToDictionary(kv => kv.Key
            .Replace(".to_q.", ".query.").Replace(".to_k.", ".key.").Replace(".to_v.", ".value.").Replace(".to_out.0.", ".proj_attn."), kv => kv.Value));
        Assert.Contains(SafetensorsFile.ReadHeader(Path.Combine(dir, UNet2DModel.WeightsFileName)).Names, n => n.EndsWith(".proj_attn.weight"));
        using var loaded = UNet2DModel.FromPretrained(dir);
        using var a = Run(model);
        using var b = Run(loaded);
        Assert.True(a.equal(b).all().item<bool>());
    }

    [Fact]
    public void Should_LoadUnetSubfolder_When_GivenPipelineFolder()
    {
        using var model = NewTiny();
        SaveWith(model, d => d, Path.Combine(_dir, "unet"));
        File.WriteAllText(Path.Combine(_dir, "model_index.json"), "{}");
        using var loaded = UNet2DModel.FromPretrained(_dir);
        Assert.Equal(8, loaded.Config.SampleSize);
    }

    [Fact]
    public void Should_ReportGoldenErrorsBelowTolerance_When_RunningModelCheck()
    {
        var dir = Path.Combine(TestPaths.Golden, "unet");
        using var model = UNet2DModel.FromPretrained(dir);
        var result = ModelCheck.Run(model, Path.Combine(dir, "io.safetensors"));
        output.WriteLine($"max abs {result.MaxAbsError:E2} max rel {result.MaxRelError:E2}");
        Assert.InRange(result.MaxAbsError, 0, 1e-4);
        Assert.InRange(result.MaxRelError, 0, 1e-4);
        Assert.Contains("mid_block", result.IntermediateMaxAbsErrors.Keys);
        Assert.All(result.IntermediateMaxAbsErrors.Values, e => Assert.InRange(e, 0, 1e-4));
    }

    [Fact]
    public void Should_NameTheFile_When_ConfigIsMissing()
    {
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(_dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains(_dir, e.Message);
    }

    [Fact]
    public void Should_NameTheFile_When_WeightsAreMissing()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), Tiny.ToJson());
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(_dir));
        Assert.Contains(UNet2DModel.WeightsFileName, e.Message);
    }

    [Fact]
    public void Should_RefusePickle_When_OnlyABinCheckpointExists()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), Tiny.ToJson());
        File.WriteAllBytes(Path.Combine(_dir, "diffusion_pytorch_model.bin"), [0x80, 0x02]);
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(_dir));
        Assert.Contains("pickle", e.Message);
        Assert.Contains("execute", e.Message);
    }

    [Fact]
    public void Should_NameEveryMismatchedWeight_When_WeightsDoNotMatchConfig()
    {
        using var model = NewTiny();
        var dir = SaveWith(model, d =>
        {
            d.Remove("conv_out.bias");
            d.Remove("mid_block.attentions.0.to_q.weight");
            d["extra.weight"] = zeros(3);
            d["conv_in.weight"] = zeros(8, 1, 5, 5);
            return d;
        });
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(dir));
        output.WriteLine(e.Message);
        Assert.Contains("2 missing: conv_out.bias, mid_block.attentions.0.to_q.weight", e.Message);
        Assert.Contains("1 unexpected: extra.weight", e.Message);
        Assert.Contains("1 wrong shape: conv_in.weight [8, 1, 5, 5] (model [8, 1, 3, 3])", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_TruncateTheList_When_ManyWeightsAreMissing()
    {
        using var model = NewTiny();
        var dir = SaveWith(model, d => d.Where(kv => !kv.Key.StartsWith("up_blocks", StringComparison.Ordinal)).ToDictionary());
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(dir));
        Assert.Matches(@"\d+ missing: .*\.\.\. and \d+ more", e.Message);
    }

    [Fact]
    public void Should_NameKeyAndLayer_When_GroupsDoNotDivideChannels()
    {
        var e = Assert.Throws<InvalidInputException>(() => new UNet2DModel(Tiny with { NormNumGroups = 3 }));
        Assert.Contains("norm_num_groups = 3", e.Message);
        Assert.Contains("down_blocks.0.resnets.0.norm1", e.Message);
    }

    [Fact]
    public void Should_NameKeyAndValue_When_BlockTypeIsUnsupported()
    {
        var json = Tiny.ToJson().Replace("\"AttnDownBlock2D\"", "\"CrossAttnDownBlock2D\"");
        File.WriteAllText(Path.Combine(_dir, "config.json"), json);
        File.WriteAllBytes(Path.Combine(_dir, UNet2DModel.WeightsFileName), new byte[16]);
        var e = Assert.Throws<InvalidInputException>(() => UNet2DModel.FromPretrained(_dir));
        Assert.Contains("down_block_types = \"CrossAttnDownBlock2D\"", e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void Should_AcceptScalarAndFloatTimesteps_When_Broadcasting()
    {
        using var model = NewTiny();
        using var _ = inference_mode();
        var x = randn(3, 1, 8, 8);
        using var a = model.forward(x, tensor(250L));
        using var b = model.forward(x, tensor(new long[] { 250, 250, 250 }));
        using var c = model.forward(x, tensor(new float[] { 250f, 250f, 250f }));
        Assert.True(a.equal(b).all().item<bool>());
        Assert.True(b.allclose(c, 0, 1e-6));
        Assert.Throws<ArgumentException>(() => model.forward(x, tensor(new long[] { 1, 2 })));
        Assert.Throws<ArgumentException>(() => model.forward(x, tensor(1L), tensor(new long[] { 0, 1, 2 })));
    }

    [Fact]
    public void Should_InitialiseEveryGroupNormToOnesAndZeros_When_BuildingAFreshModel()
    {
        // Guards the workaround for TorchSharp 0.107.0's uninitialised GroupNorm parameters.
        using var model = new UNet2DModel(ModelPresets.MnistTiny);
        var norms = model.state_dict().Where(kv => kv.Key.Contains("norm")).ToList();
        Assert.NotEmpty(norms);
        foreach (var (name, value) in norms)
        {
            var expected = name.EndsWith(".weight", StringComparison.Ordinal) ? 1f : 0f;
            Assert.True(value.eq(expected).all().item<bool>(), $"{name} is not all {expected}");
        }
        Assert.All(model.parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
    }

    [Fact]
    public void Should_NotLeakTensors_When_RunningForwardInAScope()
    {
        using var model = NewTiny();
        using var _ = inference_mode();
        var x = randn(1, 1, 8, 8);
        var t = tensor(10L);
        using (var warm = model.forward(x, t)) { }
        var before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            model.forward(x, t);
        }
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
