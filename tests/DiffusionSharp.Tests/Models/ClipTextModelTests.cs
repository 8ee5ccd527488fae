using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>CLIPTextModel architecture, config, save/load and training checks.</summary>
public sealed class ClipTextModelTests
{
    private static readonly Device Meta = new(TorchSharp.DeviceType.META);
    private static readonly string Folder = Path.Combine(TestPaths.Golden, "clip_text");
    private static readonly string Approved =
        Path.Combine(TestPaths.RepoRoot, "tests", "DiffusionSharp.Tests", "Models", "Approved", "golden-clip-text.state_dict.txt");

    private static long Parameters(nn.Module m) => m.parameters().Sum(p => p.numel());

    private static ClipTextConfig Small => ClipTextConfig.Tiny with { VocabSize = 300, HiddenSize = 16, IntermediateSize = 24, NumHiddenLayers = 2, NumAttentionHeads = 2, MaxPositionEmbeddings = 12 };

    [Fact]
    public void Should_HaveTransformersStateDict_When_BuildingGoldenConfig()
    {
        using var model = new ClipTextModel(ClipTextConfig.Load(Path.Combine(Folder, "config.json")), Meta);
        var keys = model.state_dict().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]").Order(StringComparer.Ordinal);
        Assert.Equal(File.ReadAllLines(Approved).Where(l => l.Length > 0), keys);
        Assert.Equal(1_603_951, Parameters(model));
    }

    [Fact]
    public void Should_MatchApprovedFile_When_ApprovedFileIsTheGoldenWeightsHeader()
    {
        var header = SafetensorsFile.ReadHeader(Path.Combine(Folder, ClipTextModel.WeightsFileName));
        var stored = header.Tensors.Values.Select(t => $"{t.Name} [{string.Join(", ", t.Shape)}]").Order(StringComparer.Ordinal);
        Assert.Equal(File.ReadAllLines(Approved).Where(l => l.Length > 0), stored);
    }

    [Fact]
    public void Should_Have123_06MParameters_When_BuildingSd15TextEncoderOnMeta()
    {
        using var model = new ClipTextModel(ClipTextConfig.StableDiffusion15, Meta);
        // openai/clip-vit-large-patch14's text model: 123,060,480 parameters.
        Assert.Equal(123_060_480, Parameters(model));
    }

    [Fact]
    public void Should_HaveDocumentedSize_When_BuildingTinyPreset()
    {
        using var model = new ClipTextModel(ClipTextConfig.Tiny, Meta);
        Assert.Equal(7_127_424, Parameters(model));
    }

    [Fact]
    public void Should_GiveIdenticalOutputs_When_SavedAndLoaded()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using var generator = new Generator(7);
            using var model = new ClipTextModel(Small, generator: generator);
            model.eval();
            model.SavePretrained(dir);
            using var loaded = ClipTextModel.FromPretrained(dir);
            Assert.Equal(model.Config, loaded.Config);
            using var _ = inference_mode();
            using var ids = tensor(new long[] { 5, 17, 299, 3, 0, 1, 2, 8, 9, 10 }, [2, 5]);
            using var a = model.forward(ids, null);
            using var b = loaded.forward(ids, null);
            Assert.True(a.LastHiddenState.eq(b.LastHiddenState).all().item<bool>());
            Assert.True(a.PoolerOutput.eq(b.PoolerOutput).all().item<bool>());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Should_LoadHalfPrecisionAndIgnorePositionIds_When_CheckpointIsOld()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using var model = new ClipTextModel(Small);
            var half = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float16));
            half[ClipTextModel.LegacyPositionIdsKey] = arange(Small.MaxPositionEmbeddings, ScalarType.Int64).unsqueeze(0);
            SafetensorsFile.Save(Path.Combine(dir, ClipTextModel.WeightsFileName), half);
            File.WriteAllText(Path.Combine(dir, ClipTextModel.ConfigFileName), Small.ToJson());
            using var loaded = ClipTextModel.FromPretrained(dir);
            var w = loaded.state_dict()["text_model.encoder.layers.1.mlp.fc2.weight"];
            Assert.Equal(ScalarType.Float32, w.dtype);
            Assert.True(w.eq(half["text_model.encoder.layers.1.mlp.fc2.weight"].to_type(ScalarType.Float32)).all().item<bool>());
            foreach (var t in half.Values) t.Dispose();
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Should_ReportEveryMismatch_When_WeightsDoNotFitConfig()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            using var model = new ClipTextModel(Small);
            model.SavePretrained(dir);
            File.WriteAllText(Path.Combine(dir, ClipTextModel.ConfigFileName), (Small with { NumHiddenLayers = 3 }).ToJson());
            var e = Assert.Throws<InvalidInputException>(() => ClipTextModel.FromPretrained(dir));
            Assert.Contains("missing", e.Message);
            Assert.Contains("text_model.encoder.layers.2", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("\"hidden_act\": \"relu\"", "hidden_act")]
    [InlineData("\"architectures\": [\"CLIPTextModelWithProjection\"]", "architectures")]
    [InlineData("\"model_type\": \"clip\"", "model_type")]
    [InlineData("\"rope_theta\": 10000", "unknown CLIPTextModel key 'rope_theta'")]
    [InlineData("\"num_attention_heads\": 5", "not divisible")]
    public void Should_NameKey_When_ConfigChangesMathWeDoNotImplement(string entry, string expected)
    {
        var json = Small.ToJson().TrimEnd().TrimEnd('}') + ", " + entry + "}";
        var e = Assert.Throws<InvalidInputException>(() => ClipTextConfig.FromJson(json, "text_encoder/config.json"));
        Assert.StartsWith("text_encoder/config.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Should_AcceptTransformersMetadata_When_ReadingSd15StyleConfig()
    {
        var json = """
            {"_name_or_path": "openai/clip-vit-large-patch14", "architectures": ["CLIPTextModel"], "attention_dropout": 0.0,
             "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768,
             "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
             "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 12, "num_hidden_layers": 12,
             "pad_token_id": 1, "projection_dim": 768, "torch_dtype": "float32", "transformers_version": "4.22.0.dev0", "vocab_size": 49408}
            """;
        Assert.Equal(ClipTextConfig.StableDiffusion15, ClipTextConfig.FromJson(json));
        Assert.Equal(ClipTextConfig.StableDiffusion15, ClipTextConfig.FromJson(ClipTextConfig.StableDiffusion15.ToJson()));
    }

    [Fact]
    public void Should_ReduceLoss_When_TrainingOnOneBatch()
    {
        using var generator = new Generator(3);
        using var model = new ClipTextModel(Small with { HiddenAct = ClipActivation.Gelu }, generator: generator);
        model.train();
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
        using var ids = randint(0, 300, [4, 12], generator: generator);
        using var target = randn([4, 16], generator: generator);
        using var optimizer = optim.Adam(model.parameters(), 3e-2);
        double first = 0, last = 0;
        for (var step = 0; step < 8; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            using var result = model.forward(ids, null);
            var loss = nn.functional.mse_loss(result.PoolerOutput, target);
            loss.backward();
            if (step == 0) Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
            optimizer.step();
            var value = loss.item<float>();
            if (step == 0) first = value;
            last = value;
        }
        Assert.True(last < first * 0.7, $"loss {first} -> {last}");
    }
}
