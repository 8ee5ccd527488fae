using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Conditioning;

public sealed class ConditionTests
{
    [Fact]
    public void Should_replace_dropped_labels_by_the_null_class_and_double_a_batch_for_guidance()
    {
        using var scope = NewDisposeScope();
        // Given labels 3, 1, 4 with null class 10
        var labels = new ClassLabelCondition(tensor(new long[] { 3, 1, 4 }), 10);

        // When the middle one is dropped, and the batch is doubled with its unconditional rows
        var dropped = (ClassLabelCondition)labels.Drop(tensor(new[] { false, true, false }));
        var doubled = (ClassLabelCondition)labels.Concat(labels.Unconditional());

        // Then
        Assert.Equal(new long[] { 3, 10, 4 }, dropped.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 3, 1, 4, 10, 10, 10 }, doubled.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 4 }, ((ClassLabelCondition)labels.Slice(1, 2)).Labels.data<long>().ToArray());
        Assert.Equal(6, doubled.BatchSize);
    }

    [Fact]
    public void Should_drop_embeddings_to_their_own_null_value_with_its_mask()
    {
        using var scope = NewDisposeScope();
        // Given two sequences of L = 2 tokens of D = 3, the second one padded after its first token, and a null embedding of 7s
        var hidden = ones(2, 2, 3);
        var mask = tensor(new long[,] { { 1, 1 }, { 1, 0 } });
        var nullHidden = full(2, 3, 7f);
        var condition = new EmbeddingCondition(hidden, mask, nullHidden);

        // When the second row is dropped
        var dropped = (EmbeddingCondition)condition.Drop(tensor(new[] { false, true }));

        // Then row 0 is untouched, row 1 is the null embedding attending everywhere
        Assert.Equal(Enumerable.Repeat(1f, 6).Concat(Enumerable.Repeat(7f, 6)), dropped.Hidden.data<float>().ToArray());
        Assert.Equal(new long[] { 1, 1, 1, 1 }, dropped.Mask!.data<long>().ToArray());
        var unconditional = (EmbeddingCondition)condition.Unconditional();
        Assert.Equal(Enumerable.Repeat(7f, 12), unconditional.Hidden.data<float>().ToArray());
        Assert.Equal(new long[] { 2, 2, 3 }, condition.Concat(unconditional).Slice(1, 2) is EmbeddingCondition e ? e.Hidden.shape : []);
    }

    [Fact]
    public void Should_guide_an_embedding_conditioned_network_like_a_class_conditioned_one()
    {
        // Given a network whose output is the mean of its condition's embedding, conditional embeddings of 2, a null one of 0
        using var network = new EmbeddingMean();
        using var pipeline = DiffusionPipeline.FromModel(network, SchedulerFactory.Create("ddim", new NoiseScheduleConfig()));
        using var scope = NewDisposeScope();
        var condition = new EmbeddingCondition(full(3, 4, 5, 2f), null, zeros(4, 5));

        // When the pipeline's model call guides with w = 3
        var output = pipeline.ModelCall(condition, 3.0)(zeros(3, 1, 2, 2), 500);

        // Then the output is eps_uncond + w (eps_cond - eps_uncond) = 0 + 3 x (2 - 0) everywhere
        Assert.Equal(Enumerable.Repeat(6f, 12), output.data<float>().ToArray());
        Assert.Equal(3, network.LastBatch);
    }

    /// <summary>An embedding-conditioned network: output = the mean of each row's embedding, in the sample's shape.</summary>
    private sealed class EmbeddingMean : nn.Module, IDenoiser
    {
        public EmbeddingMean() : base(nameof(EmbeddingMean)) { }

        public long LastBatch { get; private set; }
        public IDenoiserConfig Config { get; } = new EmbeddingMeanConfig();
        public nn.Module Module => this;
        public Device Device => CPU;

        public Tensor Forward(Tensor sample, Tensor timestep, Condition condition)
        {
            var e = Assert.IsType<EmbeddingCondition>(condition);
            LastBatch = sample.shape[0] / 2;
            return e.Hidden.mean([1, 2]).reshape(-1, 1, 1, 1).expand(sample.shape).clone();
        }

        public long FlopsPerSample(IReadOnlyList<int> sampleShape) => 0;
        public void SavePretrained(string folder) => throw new NotSupportedException();
        public IDenoiser CreateEmpty(Device? device = null) => new EmbeddingMean();
    }

    private sealed record EmbeddingMeanConfig : IDenoiserConfig
    {
        public string ClassName => "EmbeddingMean";
        public int InChannels => 1;
        public int OutChannels => 1;
        public IReadOnlyList<int>? SampleShape => [1, 2, 2];
        public ConditionKind Conditioning => ConditionKind.Embedding;
        public int NumClasses => 0;
        public string ToJson() => "{}";
        public IDenoiser Build(Device? device = null) => new EmbeddingMean();
    }
}
