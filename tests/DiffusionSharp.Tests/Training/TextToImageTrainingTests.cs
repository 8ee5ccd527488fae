using System.Text.Json.Nodes;
using DiffusionSharp.Conditioning;
using DiffusionSharp.Data;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Training;

/// <summary>
/// Text-conditioned training from scratch: a UNet2DConditionModel and a CLIP text encoder trained together on captioned
/// latents, the run folder as a Stable Diffusion pipeline, exact resume, and prompt dropping for guidance.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class TextToImageTrainingTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A two-level UNet2DConditionModel over 4x16x16 latents, 16 channels, attending to 32-wide text states.</summary>
    internal static UNet2DConditionConfig TinyTextUNet(int crossAttentionDim = 32) => new()
    {
        SampleSize = 16,
        InChannels = 4,
        OutChannels = 4,
        BlockOutChannels = [16, 16],
        DownBlockTypes = [CrossAttnDownBlockType.DownBlock2D, CrossAttnDownBlockType.CrossAttnDownBlock2D],
        UpBlockTypes = [CrossAttnUpBlockType.CrossAttnUpBlock2D, CrossAttnUpBlockType.UpBlock2D],
        LayersPerBlock = 1,
        AttentionHeadDim = [1, 2],
        CrossAttentionDim = crossAttentionDim,
        NormNumGroups = 4,
    };

    /// <summary>A one-layer CLIP text model 32 wide (CLIP's full 49,408-token vocabulary, 77 positions).</summary>
    internal static ClipTextConfig TinyText(int width = 32) => ClipTextConfig.Tiny with
    {
        HiddenSize = width, IntermediateSize = 2 * width, ProjectionDim = width, NumHiddenLayers = 1, NumAttentionHeads = 2,
    };

    /// <summary>Four 64x64 pictures with captions in an imagefolder <c>metadata.jsonl</c> (<c>text</c> and <c>name</c> columns).</summary>
    internal static string WriteCaptionedImages(string folder)
    {
        LatentTrainingTests.WriteImages(folder, 4);
        string[] captions = ["red heart", "flag: Japan", "grinning face", "cat face"];
        File.WriteAllLines(Path.Combine(folder, ImageFolderMetadata.FileName),
            captions.Select((c, i) => $"{{\"file_name\": \"{i:D2}.png\", \"text\": \"{c}\", \"name\": \"picture {i}\"}}"));
        return folder;
    }

    private (RunFolder Run, Trainer Trainer) StartTextRun(string name, int steps, int checkpointEvery = 0, string column = "text", double condDrop = 0.5)
    {
        var vaeDir = LatentTrainingTests.SaveVae(Path.Combine(_dir, "vae"));
        var spec = new DataSpec(WriteCaptionedImages(Path.Combine(_dir, "images")), 64, PromptColumn: column);
        var run = RunFolder.Create(Path.Combine(_dir, name), overwrite: false);
        run.WriteVae(vaeDir);
        var images = spec.Open(64);
        LatentDataset latents;
        using (var vae = AutoencoderLoader.FromPretrained(run.VaeDir))
            latents = LatentCache.LoadOrBuild(run.LatentsDir, run.VaeDir, vae, images);
        var data = new CaptionedLatentDataset(latents, spec.ReadPrompts(images), BundledData.ClipTokenizerDirectory);
        random.manual_seed(0);
        using var generator = new Generator(3);
        var model = new TextConditionedUNet(new TextConditionedUNetConfig(TinyTextUNet(), TinyText()), textGenerator: generator);
        var options = QuickTraining.Options(steps, 2) with { CheckpointEvery = checkpointEvery, CondDrop = condDrop };
        return (run, Trainer.Start(run, model, data, spec, new NoiseScheduleConfig(), options));
    }

    private static Dictionary<string, float[]> Weights(string safetensors)
    {
        var loaded = SafetensorsFile.Load(safetensors);
        try
        {
            return loaded.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float32).data<float>().ToArray());
        }
        finally
        {
            foreach (var t in loaded.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_train_unet_and_text_encoder_together_into_a_stable_diffusion_folder_that_samples_from_a_prompt()
    {
        // Given a 3-step text-conditioned run on four captioned pictures, and the text encoder's initial weights
        var (run, trainer) = StartTextRun("run", 3);
        Dictionary<string, float[]> before;
        using (trainer)
        {
            var text = ((TextConditionedUNet)trainer.Model).TextEncoder;
            before = text.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());
            Assert.Equal(StopReason.Finished, trainer.Train().Reason);
        }

        // Then the folder is a diffusers StableDiffusionPipeline folder with every component and the bundled tokenizer
        var index = JsonNode.Parse(File.ReadAllText(run.ModelIndexPath))!.AsObject();
        Assert.Equal("StableDiffusionPipeline", index["_class_name"]!.GetValue<string>());
        Assert.Equal("CLIPTextModel", index["text_encoder"]![1]!.GetValue<string>());
        Assert.Equal("transformers", index["tokenizer"]![0]!.GetValue<string>());
        Assert.Equal("UNet2DConditionModel", index["unet"]![1]!.GetValue<string>());
        Assert.Equal("AutoencoderKL", index["vae"]![1]!.GetValue<string>());
        Assert.False(index["requires_safety_checker"]!.GetValue<bool>());
        foreach (var dir in new[] { run.UnetDir, run.UnetEmaDir, run.TextEncoderDir, run.TextEncoderEmaDir, run.TokenizerDir, run.VaeDir, run.SchedulerDir })
            Assert.True(Directory.Exists(dir), dir);
        Assert.Equal(File.ReadAllBytes(Path.Combine(BundledData.ClipTokenizerDirectory, "vocab.json")), File.ReadAllBytes(Path.Combine(run.TokenizerDir, "vocab.json")));

        // And the text encoder was trained (it is in the optimizer), under transformers' state-dict names
        var after = Weights(Path.Combine(run.TextEncoderDir, ClipTextModel.WeightsFileName));
        Assert.All(after.Keys, k => Assert.StartsWith("text_model.", k));
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        Assert.Contains(after.Keys, k => !before[k].SequenceEqual(after[k]));

        // When the folder is loaded as a Stable Diffusion pipeline and prompted with guidance, Then it makes a 64x64 image
        using var pipeline = StableDiffusionPipeline.Load(run.Root, samplerName: "ddim");
        Assert.Equal(32, pipeline.TextEncoder.Model.Config.HiddenSize);
        using var result = pipeline.Generate("red heart", null, guidance: 3, steps: 2, seed: 1);
        Assert.Equal([1L, 3, 64, 64], result.Image.shape);
        Assert.True(result.Image.isfinite().all().item<bool>());
        using var other = pipeline.Generate("cat face", null, guidance: 3, steps: 2, seed: 1);
        Assert.False(result.Image.equal(other.Image).all().item<bool>(), "two prompts gave the same image");
    }

    [Fact]
    public void Should_resume_a_text_run_to_the_same_weights_as_an_uninterrupted_one()
    {
        // Given an uninterrupted 4-step run and one stopped at its checkpoint after 2 steps
        var (straight, a) = StartTextRun("straight", 4);
        using (a) a.Train();
        var (split, b) = StartTextRun("split", 2, checkpointEvery: 2);
        using (b) b.Train();

        // When the second is resumed to 4 steps
        using (var resumed = Trainer.Resume(RunFolder.Open(split.Root), steps: 4))
        {
            Assert.IsType<TextConditionedUNet>(resumed.Model);
            Assert.IsType<CaptionedLatentDataset>(resumed.Data);
            Assert.Equal(StopReason.Finished, resumed.Train().Reason);
        }

        // Then the U-Net, the text encoder and their EMA copies equal the uninterrupted run's bit for bit
        foreach (var (dir, file) in new[]
                 {
                     ("unet", UNet2DModel.WeightsFileName), ("unet_ema", UNet2DModel.WeightsFileName),
                     ("text_encoder", ClipTextModel.WeightsFileName), ("text_encoder_ema", ClipTextModel.WeightsFileName),
                 })
        {
            var want = Weights(Path.Combine(straight.Root, dir, file));
            var got = Weights(Path.Combine(split.Root, dir, file));
            Assert.Equal(want.Keys.Order(), got.Keys.Order());
            foreach (var key in want.Keys) Assert.True(want[key].SequenceEqual(got[key]), $"{dir}/{key} differs after resume");
        }
    }

    [Fact]
    public void Should_leave_the_live_tensor_count_unchanged_over_text_training_steps()
    {
        // Given a text run of 5 steps and the live tensor count after every step
        var (_, trainer) = StartTextRun("leak", 5);
        using (trainer)
        {
            var live = new List<long>();
            trainer.StepHook = (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);

            // When it trains, Then after the first step (AdamW's moments) the count does not change
            trainer.Train();
            Assert.Equal(5, live.Count);
            Assert.All(live.Skip(1), n => Assert.Equal(live[1], n));
        }
    }

    [Fact]
    public void Should_drop_prompts_to_the_empty_prompts_row_and_keep_the_others()
    {
        // Given the token rows of two captions and the empty prompt's row
        var vaeDir = LatentTrainingTests.SaveVae(Path.Combine(_dir, "vae"));
        var spec = new DataSpec(WriteCaptionedImages(Path.Combine(_dir, "images")), 64, PromptColumn: "name");
        var images = spec.Open(64);
        using var vae = AutoencoderLoader.FromPretrained(vaeDir);
        var latents = LatentCache.LoadOrBuild(Path.Combine(_dir, "latents"), vaeDir, vae, images);
        using var data = new CaptionedLatentDataset(latents, spec.ReadPrompts(images), BundledData.ClipTokenizerDirectory);
        Assert.Equal("picture 2", data.Captions[2]);
        using var condition = (TokenCondition)data.ConditionOf([0, 1]);
        Assert.Equal([2L, 77], condition.InputIds.shape);
        var empty = data.NullIds.data<long>().ToArray();
        Assert.Equal([49406L, 49407, 49407], empty[..3]);

        // When row 1 is dropped, Then it becomes the empty prompt's row and row 0 keeps its ids
        using var dropped = (TokenCondition)condition.Drop(tensor(new[] { false, true }));
        Assert.Equal(condition.InputIds[0].data<long>().ToArray(), dropped.InputIds[0].data<long>().ToArray());
        Assert.Equal(empty, dropped.InputIds[1].data<long>().ToArray());
        using var unconditional = (TokenCondition)condition.Unconditional();
        Assert.Equal(empty, unconditional.InputIds[0].data<long>().ToArray());
    }

    [Fact]
    public void Should_refuse_a_text_encoder_whose_width_is_not_the_unets_cross_attention_dim()
    {
        var config = new TextConditionedUNetConfig(TinyTextUNet(crossAttentionDim: 32), TinyText(width: 64));
        var e = Assert.Throws<InvalidInputException>(config.Validate);
        Assert.Equal(TextConditionedUNetConfig.TextEncoderProperty, e.Property);
        Assert.Contains("hidden_size 64", e.Message);
        Assert.Contains("cross_attention_dim 32", e.Message);
    }

    [Fact]
    public void Should_name_the_missing_prompt_column_and_list_the_columns_there_are()
    {
        var spec = new DataSpec(WriteCaptionedImages(Path.Combine(_dir, "images")), 64, PromptColumn: "caption");
        var e = Assert.Throws<InvalidInputException>(() => spec.ReadPrompts(spec.Open(64)));
        Assert.Equal(DataSpec.PromptColumnProperty, e.Property);
        Assert.Contains("'caption'", e.Message);
        Assert.Contains("'text'", e.Message);
    }
}
