using DiffusionSharp.Data;
using DiffusionSharp.Distributed;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Distributed;

/// <summary>The data-parallel reducer between ranks that are threads: broadcast, agreement on skips and stops, checksums, buckets, leaks.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class DataParallelReducerTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TrainingOptions Options(int steps) => new()
    {
        Steps = steps,
        BatchSize = 8,
        LearningRate = 1e-2,
        WarmupSteps = 0,
        Decay = LearningRateDecay.Constant,
        CheckpointEvery = 0,
        Seed = 5,
        MaxBadSteps = 5,
    };

    /// <summary>Rank r trains a TinyConv1d initialised with seed <paramref name="initSeed"/>(r); returns its outcome and final weights' checksum.</summary>
    private (TrainingOutcome Outcome, (double, double) Checksum, float[] Weights) TrainRank(IProcessGroup group, TrainingOptions options,
        Func<int, long> initSeed, Func<DataParallelReducer, IGradientReducer>? wrap = null, CancellationToken localStop = default,
        int bucketBytes = DataParallelReducer.DefaultBucketBytes, string tag = "")
    {
        using var network = new TinyConv1d(new TinyConv1dConfig(2, 16));
        // The initial weights come from a generator of this rank's own: torch's global one is shared with the other rank
        // thread and with tests running in parallel.
        using (torch.no_grad())
        using (var init = new Generator((ulong)initSeed(group.Rank)))
        {
            foreach (var p in network.parameters())
            {
                using var drawn = torch.randn(p.shape, generator: init) * 0.2;
                p.copy_(drawn);
            }
        }
        using var reducer = new DataParallelReducer(group, localStop, bucketBytes);
        var role = new ProcessRole(group.Rank, group.Count);
        var root = Path.Combine(_dir, $"{tag}rank{group.Rank}-{Guid.NewGuid():N}");
        var run = role.WritesFiles ? RunFolder.Create(root, overwrite: false) : RunFolder.At(root);
        var seams = new TrainingSeams(role, wrap?.Invoke(reducer) ?? reducer);
        using var trainer = Trainer.Start(run, network, new Waves(64, frequencies: 5), new DataSpec("waves"), new NoiseScheduleConfig(), options, seams);
        var outcome = trainer.Train(cancellationToken: reducer.Stop);
        var weights = network.parameters().ToArray();
        var all = weights.SelectMany(p => p.detach().contiguous().data<float>().ToArray()).ToArray();
        return (outcome, DataParallelReducer.Checksum(weights), all);
    }

    [Fact]
    public void Should_start_every_rank_from_rank_0s_weights_and_keep_them_equal()
    {
        // Given two ranks whose networks were initialised from different seeds
        var group = new ThreadProcessGroup(2);

        // When they train 4 steps data-parallel
        var results = group.Run(g => TrainRank(g, Options(4), r => 100 + r));

        // Then both end with bit-equal weights, equal to a run where both started from rank 0's seed
        Assert.Equal(results[0].Weights, results[1].Weights);
        var same = new ThreadProcessGroup(2).Run(g => TrainRank(g, Options(4), _ => 100));
        Assert.Equal(same[0].Weights, results[1].Weights);
    }

    [Fact]
    public void Should_skip_the_step_on_every_rank_when_one_rank_has_a_non_finite_gradient()
    {
        // Given rank 1 whose gradient turns NaN at its second step
        var group = new ThreadProcessGroup(2);

        // When both ranks train 4 steps
        var results = group.Run(g => TrainRank(g, Options(4), _ => 7,
            wrap: g.Rank == 1 ? reducer => new PoisonAt(reducer, poisonCall: 2) : null));

        // Then both skipped exactly that step and still hold bit-equal, finite weights
        Assert.All(results, r => Assert.Equal(1, r.Outcome.SkippedSteps));
        Assert.All(results, r => Assert.Equal(StopReason.Finished, r.Outcome.Reason));
        Assert.Equal(results[0].Weights, results[1].Weights);
        Assert.All(results[0].Weights, w => Assert.True(float.IsFinite(w)));
    }

    [Fact]
    public void Should_stop_every_rank_after_the_same_step_when_one_rank_is_asked_to_stop()
    {
        // Given rank 1 asked to stop (a signal) before training starts, rank 0 not
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var group = new ThreadProcessGroup(2);

        // When both train towards 50 steps
        var results = group.Run(g => TrainRank(g, Options(50), _ => 7, localStop: g.Rank == 1 ? stop.Token : default));

        // Then both stop, cancelled, after the first step (where the request was shared)
        Assert.All(results, r => Assert.Equal(StopReason.Cancelled, r.Outcome.Reason));
        Assert.All(results, r => Assert.Equal(1, r.Outcome.Step));
    }

    [Fact]
    public void Should_give_the_same_weights_with_small_buckets_as_with_one_bucket()
    {
        // Given the same two-rank run with the default bucket (one) and with 16-byte buckets (many)
        var one = new ThreadProcessGroup(2).Run(g => TrainRank(g, Options(3), _ => 9));
        var many = new ThreadProcessGroup(2).Run(g => TrainRank(g, Options(3), _ => 9, bucketBytes: 16));

        // Then the weights are bit-equal (each element is summed over the ranks alone, whatever bucket it is in)
        Assert.Equal(one[0].Weights, many[0].Weights);
    }

    [Fact]
    public void Should_report_bucket_sizes_within_the_bucket_size()
    {
        // Given a reducer with 16-byte (4-float) buckets
        torch.random.manual_seed(0);
        using var network = new TinyConv1d(new TinyConv1dConfig(2, 16));
        var parameters = network.parameters().ToArray();
        using var reducer = new DataParallelReducer(new ThreadProcessGroup(1).Member(0), default, bucketBytes: 16);
        foreach (var p in parameters)
        {
            using var sum = p.sum();
            sum.backward();
        }

        // When the gradients are reduced once
        reducer.GradientsReady(parameters);

        // Then every parameter is in exactly one bucket, and no bucket holding several exceeds 4 floats
        Assert.Equal(parameters.Sum(p => p.numel()), reducer.BucketSizes.Sum());
        Assert.True(reducer.BucketSizes.Count > 1);
        long largest = parameters.Max(p => p.numel());
        Assert.All(reducer.BucketSizes, size => Assert.True(size <= Math.Max(4, largest)));
        Assert.All(parameters, p => Assert.Equal(1f, p.grad!.mean().item<float>()));
    }

    [Fact]
    public void Should_name_the_step_when_the_ranks_hold_different_weights_at_a_checkpoint()
    {
        // Given two ranks whose weights differ in one value
        var group = new ThreadProcessGroup(2);

        // When they reach the checkpoint of step 7
        var e = Assert.Throws<AggregateException>(() => group.Run(g =>
        {
            using var reducer = new DataParallelReducer(g);
            using var w = torch.arange(10, dtype: ScalarType.Float32) + g.Rank * 1e-3f * (torch.arange(10) == 3).to_type(ScalarType.Float32);
            reducer.CheckpointReached(7, [w]);
            return 0;
        }));

        // Then every rank fails naming the step and the rank that differs
        Assert.Equal(2, e.InnerExceptions.Count);
        Assert.All(e.InnerExceptions, x => Assert.Contains("at step 7 the weights of rank(s) 1 differ", x.Message));
    }

    [Fact]
    public void Should_leave_no_tensor_behind_from_one_step_to_the_next()
    {
        // Given one rank with the reducer (its buckets are made at the first step)
        torch.random.manual_seed(0);
        using var network = new TinyConv1d(new TinyConv1dConfig(2, 16));
        using var reducer = new DataParallelReducer(new ThreadProcessGroup(1).Member(0));
        var run = RunFolder.Create(Path.Combine(_dir, "leak"), overwrite: false);
        using var trainer = Trainer.Start(run, network, new Waves(64, frequencies: 5), new DataSpec("waves"), new NoiseScheduleConfig(), Options(6),
            new TrainingSeams(ProcessRole.Single, reducer));
        var live = new List<long>();
        trainer.StepHook = (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);

        // When it trains 6 steps
        trainer.Train();

        // Then the live tensor count is the same after every step from the first on
        Assert.Equal(6, live.Count);
        Assert.All(live.Skip(1), n => Assert.Equal(live[1], n));
        Assert.Equal(6, reducer.Steps);
    }

    /// <summary>Sets one gradient to NaN before the reduction of the given call (1-based).</summary>
    private sealed class PoisonAt(DataParallelReducer inner, int poisonCall) : IGradientReducer
    {
        private int _calls;

        public void GradientsReady(IReadOnlyList<Parameter> parameters)
        {
            if (++_calls == poisonCall)
                using (torch.no_grad()) parameters[0].grad!.fill_(float.NaN);
            inner.GradientsReady(parameters);
        }

        public double ReduceLoss(double loss) => inner.ReduceLoss(loss);
        public void WeightsReady(IReadOnlyList<Tensor> weights) => inner.WeightsReady(weights);
        public void CheckpointReached(int step, IReadOnlyList<Tensor> weights) => inner.CheckpointReached(step, weights);
    }
}
