using DiffusionSharp.Conditioning;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>UNet2DConditionModel behaviour: the attention mask, conditions, save/load, training and guidance with embeddings.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class UNet2DConditionModelTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two levels of 32 channels, cross-attention at both and in the mid block, context [L, 16]: 8x8x4 samples.</summary>
    private static UNet2DConditionConfig Micro(int? numClassEmbeds = null, bool linear = false) => new()
    {
        SampleSize = 8,
        BlockOutChannels = [32, 32],
        DownBlockTypes = [CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.DownBlock2D],
        UpBlockTypes = [CrossAttnUpBlockType.UpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D],
        LayersPerBlock = 1,
        AttentionHeadDim = [2, 4],
        CrossAttentionDim = 16,
        NormNumGroups = 8,
        UseLinearProjection = linear,
        NumClassEmbeds = numClassEmbeds,
    };

    private static UNet2DConditionModel Build(UNet2DConditionConfig config, long seed)
    {
        random.manual_seed(seed);
        var model = new UNet2DConditionModel(config);
        model.eval();
        return model;
    }

    [Fact]
    public void Should_IgnoreMaskedTokensAndUseTheMask_When_GivenAnEncoderAttentionMask()
    {
        // Given a model, inputs, and a mask that keeps the first 3 of 6 context tokens
        using var model = Build(Micro(), 1);
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var g = new Generator(2);
        var sample = randn([2, 4, 8, 8], generator: g);
        var t = tensor(new long[] { 10, 700 });
        var context = randn([2, 6, 16], generator: g);
        var keep = tensor(new long[] { 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0 }).reshape(2, 6);

        // When the masked tokens are replaced by other values
        var changed = context.clone();
        changed[.., 3..] = randn([2, 3, 16], generator: g) * 10;
        var masked = model.forward(sample, t, context, keep, null);
        var maskedChanged = model.forward(sample, t, changed, keep, null);

        // Then the output does not move; an all-ones mask is the same as none; and the mask does change the output
        Assert.True((masked - maskedChanged).abs().max().item<float>() < 1e-5f);
        var none = model.forward(sample, t, context);
        var ones = model.forward(sample, t, context, ones_like(keep), null);
        Assert.True((none - ones).abs().max().item<float>() < 1e-6f);
        Assert.True((none - masked).abs().max().item<float>() > 1e-3f);
        // and keeping only the first 3 tokens is attending to a 3-token context
        var shorter = model.forward(sample, t, context[.., ..3]);
        Assert.True((shorter - masked).abs().max().item<float>() < 1e-5f);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Should_GiveIdenticalOutputs_When_SavedAndLoaded(bool linearProjection)
    {
        // Given a randomly initialised model (1x1 conv or Linear projections) saved as a diffusers folder
        using var model = Build(Micro(linear: linearProjection), 3);
        var folder = Path.Combine(_dir, "unet");
        model.SavePretrained(folder);

        // When it is loaded by class name
        using var loaded = Assert.IsType<UNet2DConditionModel>(Denoisers.FromPretrained(folder));

        // Then config and outputs are identical
        Assert.Equal(model.Config.ToJson(), loaded.Config.ToJson());
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var g = new Generator(4);
        var sample = randn([2, 4, 8, 8], generator: g);
        var context = randn([2, 5, 16], generator: g);
        var t = tensor(new float[] { 3, 999 });
        Assert.Equal(model.forward(sample, t, context).data<float>().ToArray(), loaded.forward(sample, t, context).data<float>().ToArray());
        Assert.Equal(model.state_dict().Keys.Order(), loaded.state_dict().Keys.Order());
    }

    [Fact]
    public void Should_RejectWrongConditionsAndShapes_When_Called()
    {
        using var model = Build(Micro(), 5);
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var sample = zeros(1, 4, 8, 8);
        var t = tensor(new long[] { 1 });
        Assert.Throws<ArgumentException>(() => model.Forward(sample, t, Condition.None(1)));
        Assert.Throws<ArgumentException>(() => model.Forward(sample, t, new ClassLabelCondition(tensor(new long[] { 0 }), 1)));
        var wrongWidth = Assert.Throws<ArgumentException>(() => model.forward(sample, t, zeros(1, 5, 15)));
        Assert.Contains("cross_attention_dim", wrongWidth.Message);
        Assert.Throws<ArgumentException>(() => model.forward(zeros(1, 4, 7, 8), t, zeros(1, 5, 16)));
        Assert.Throws<ArgumentException>(() => model.forward(sample, t, zeros(1, 5, 16), ones(1, 4), null));
        Assert.Throws<ArgumentException>(() => model.forward(sample, t, zeros(1, 5, 16), null, tensor(new long[] { 0 })));
    }

    [Fact]
    public void Should_AddTheClassEmbedding_When_ModelHasNumClassEmbeds()
    {
        // Given a model with 3 class embeddings
        using var model = Build(Micro(numClassEmbeds: 3), 6);
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var g = new Generator(7);
        var sample = randn([2, 4, 8, 8], generator: g);
        var context = randn([2, 5, 16], generator: g);
        var t = tensor(new long[] { 50, 50 });

        // Then labels are required, and different labels give different outputs
        Assert.Throws<ArgumentException>(() => model.forward(sample, t, context));
        Assert.Throws<ArgumentException>(() => model.Forward(sample, t, new EmbeddingCondition(context.clone(), null, zeros(5, 16))));
        var a = model.forward(sample, t, context, null, tensor(new long[] { 0, 0 }));
        var b = model.forward(sample, t, context, null, tensor(new long[] { 2, 2 }));
        Assert.True((a - b).abs().max().item<float>() > 1e-4f);
        Assert.Equal(3 * 128, model.state_dict()["class_embedding.weight"].numel());
    }

    [Fact]
    public void Should_CombineTheDoubledBatch_When_GuidingWithEmbeddings()
    {
        // Given a model and embeddings with their null embedding
        using var model = Build(Micro(), 8);
        using var pipeline = DiffusionPipeline.FromModel(model, SchedulerFactory.Create("ddim", new NoiseScheduleConfig()));
        using var scope = NewDisposeScope();
        var g = new Generator(9);
        var sample = randn([2, 4, 8, 8], generator: g);
        var hidden = randn([2, 5, 16], generator: g);
        var nullHidden = randn([5, 16], generator: g);
        var condition = new EmbeddingCondition(hidden.clone(), null, nullHidden);

        // When the pipeline's model call guides with w = 4 (one doubled batch)
        using var mode = inference_mode();
        var guided = pipeline.ModelCall(condition, 4.0)(sample, 321);

        // Then it is eps_uncond + w (eps_cond - eps_uncond) of two separate calls
        var t = full([2], 321f);
        var cond = model.forward(sample, t, hidden);
        var uncond = model.forward(sample, t, nullHidden.expand(2, 5, 16));
        var expected = uncond + 4.0 * (cond - uncond);
        Assert.True((guided - expected).abs().max().item<float>() < 1e-4f);
        Assert.True((cond - uncond).abs().max().item<float>() > 1e-3f);
    }

    [Fact]
    public void Should_NotLeakTensors_When_RunningForwardWithAMaskInAScope()
    {
        // Given a model and inputs (one warm-up call)
        using var model = Build(Micro(linear: true), 13);
        using var _ = inference_mode();
        using var x = randn(1, 4, 8, 8);
        using var t = tensor(10L);
        using var context = randn(1, 5, 16);
        using var mask = ones(1, 5);
        using (var warm = model.forward(x, t, context, mask, null)) { }
        var before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        // When it runs three times, each in its own scope
        for (var i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            model.forward(x, t, context, mask, null);
        }

        // Then no tensor outlives its scope
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Should_LowerTheLoss_When_TrainingOnFixedEmbeddings()
    {
        // Given 8 latents, each with its own fixed random embedding sequence, and a tiny model
        var data = new EmbeddedLatents(8);
        var options = QuickTraining.Options(steps: 25, batch: 8) with { LearningRate = 2e-3, CondDrop = 0.1 };
        var schedule = new NoiseScheduleConfig();
        using var model = Build(Micro(), 10);
        model.train();
        using var formulation = Formulations.Create(options, schedule);
        using var g = new Generator(11);
        var all = Enumerable.Range(0, 8).ToArray();
        using var x0 = data.All();
        using var condition = data.ConditionOf(all);
        using var levels = formulation.DrawNoiseLevels(8, g);
        using var noise = randn(x0.shape, generator: g);
        using var xt = formulation.AddNoise(x0, noise, levels);
        using var target = formulation.Target(x0, noise, levels);
        double Loss()
        {
            using var _ = no_grad();
            using var prediction = formulation.Predict(model, xt, levels, condition);
            using var loss = formulation.Loss(prediction, target, levels);
            return loss.item<float>();
        }
        double before = Loss();

        // When the trainer runs 25 steps with EmbeddingCondition batches (10% dropped to the null embedding)
        using (var trainer = Trainer.Start(RunFolder.Create(Path.Combine(_dir, "run"), false), model, data, new DataSpec("embedded"), schedule, options))
            Assert.Equal(StopReason.Finished, trainer.Train().Reason);

        // Then the loss at the fixed draws has gone down, and the run folder holds a loadable UNet2DConditionModel
        double after = Loss();
        Assert.True(after < 0.9 * before, $"loss {before} -> {after}");
        using var saved = Assert.IsType<UNet2DConditionModel>(Denoisers.FromPretrained(Path.Combine(_dir, "run")));
    }

    /// <summary>8x8x4 "latents" (smooth patterns) with a fixed random [5, 16] embedding per sample; the null embedding is zeros.</summary>
    private sealed class EmbeddedLatents : IConditionedDataset
    {
        private readonly float[] _latents;
        private readonly float[] _embeddings;
        private readonly Tensor _null = zeros(5, 16);

        public EmbeddedLatents(int count)
        {
            Count = count;
            using var g = new Generator(12);
            using (var pattern = randn([count, 4, 2, 2], generator: g))
            using (var up = nn.functional.interpolate(pattern, size: [8, 8], mode: InterpolationMode.Bilinear, align_corners: false))
            using (var squashed = up.tanh())
                _latents = squashed.data<float>().ToArray();
            using var e = randn([count, 5, 16], generator: g);
            _embeddings = e.data<float>().ToArray();
        }

        public int Count { get; }
        public IReadOnlyList<int> SampleShape => [4, 8, 8];
        public int NumClasses => 0;
        public IReadOnlyList<string> ClassNames => [];

        public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
        {
            for (var n = 0; n < indices.Length; n++) _latents.AsSpan(indices[n] * 256, 256).CopyTo(samples[(n * 256)..]);
        }

        public Condition ConditionOf(ReadOnlySpan<int> indices)
        {
            var rows = new float[indices.Length * 80];
            for (var n = 0; n < indices.Length; n++) _embeddings.AsSpan(indices[n] * 80, 80).CopyTo(rows.AsSpan(n * 80));
            return new EmbeddingCondition(tensor(rows, [indices.Length, 5, 16]), null, _null);
        }

        public Tensor All() => tensor(_latents, [Count, 4, 8, 8]);
    }
}
