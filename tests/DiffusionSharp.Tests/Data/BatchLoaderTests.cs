using Xunit;
using DiffusionSharp.Data;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Data;

public sealed class BatchLoaderTests
{
    /// <summary>A dataset whose image i is filled with a value encoding i and whose label is i.</summary>
    private sealed class IndexDataset(int count, int width = 2) : IImageDataset
    {
        public int Count => count;
        public int Channels => 1;
        public int Height => 1;
        public int Width => width;
        public int NumClasses => count;
        public IReadOnlyList<string> ClassNames => Enumerable.Range(0, count).Select(i => i.ToString()).ToArray();

        public void FillBatch(ReadOnlySpan<int> indices, Span<float> images, Span<long> labels)
        {
            for (var b = 0; b < indices.Length; b++)
            {
                for (var x = 0; x < width; x++) images[b * width + x] = indices[b] * 10 + x;
                labels[b] = indices[b];
            }
        }
    }

    private static long[] Labels(Batch batch) => batch.Labels!.data<long>().ToArray();

    private static List<long> Take(BatchLoader loader, int batches)
    {
        var seen = new List<long>();
        for (var i = 0; i < batches; i++)
        {
            using var batch = loader.Next();
            seen.AddRange(Labels(batch));
        }
        return seen;
    }

    [Fact]
    public void Should_repeat_the_order_given_the_same_seed_and_change_it_given_another()
    {
        var a = Take(new BatchLoader(new IndexDataset(50), 8, seed: 7), 12);
        var b = Take(new BatchLoader(new IndexDataset(50), 8, seed: 7), 12);
        var c = Take(new BatchLoader(new IndexDataset(50), 8, seed: 8), 12);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Should_pin_the_order_of_seed_0_on_every_machine()
    {
        // A fixed expectation: the shuffle must not depend on the runtime's Random.
        var order = new BatchLoader(new IndexDataset(10), 10, seed: 0).GetEpochOrder(0);

        Assert.Equal(Enumerable.Range(0, 10), order.Order());
        Assert.Equal(ExpectedSeed0Order, order);
    }

    private static readonly int[] ExpectedSeed0Order = [2, 1, 0, 6, 7, 4, 8, 5, 9, 3];

    [Theory]
    [InlineData(true, 5, 25)]
    [InlineData(false, 4, 28)]
    [InlineData(false, 5, 28)]
    public void Should_visit_every_index_once_per_epoch(bool dropLast, int batchSize, int expectedSeen)
    {
        var loader = new BatchLoader(new IndexDataset(28), batchSize, seed: 3, dropLast: dropLast);
        for (var epoch = 0; epoch < 3; epoch++)
        {
            var seen = new List<long>();
            foreach (var batch in loader.ReadEpoch())
            {
                using (batch)
                {
                    Assert.Equal(new long[] { batch.Labels!.shape[0], 1, 1, 2 }, batch.Samples.shape);
                    Assert.Equal(ScalarType.Float32, batch.Samples.dtype);
                    Assert.Equal(ScalarType.Int64, batch.Labels.dtype);
                    seen.AddRange(Labels(batch));
                }
            }
            Assert.Equal(expectedSeen, seen.Count);
            Assert.Equal(seen.Count, seen.Distinct().Count());
            Assert.Equal((epoch + 1, 0), (loader.Epoch, loader.BatchIndex));
        }
    }

    [Fact]
    public void Should_resume_the_identical_sequence_after_restore()
    {
        // Given a loader that has run 2.5 epochs and saved its state
        var first = new BatchLoader(new IndexDataset(30), 4, seed: 11, randomHorizontalFlip: true);
        Take(first, 17);
        var state = first.GetState();
        var expected = TakeImages(first, 20);

        // When a new loader restores that state
        var resumed = new BatchLoader(new IndexDataset(30), 4, seed: 11, randomHorizontalFlip: true);
        resumed.Restore(state);

        // Then it yields the same batches, flips included
        Assert.Equal((2, 3), (state.Epoch, state.BatchIndex));
        Assert.Equal(expected, TakeImages(resumed, 20));
    }

    [Fact]
    public void Should_refuse_a_state_from_other_settings()
    {
        var state = new BatchLoader(new IndexDataset(30), 4, seed: 11).GetState();
        var other = new BatchLoader(new IndexDataset(30), 5, seed: 11);

        Assert.Contains("batch size 4", Assert.Throws<InvalidInputException>(() => other.Restore(state)).Message);
    }

    [Fact]
    public void Should_flip_about_half_the_images_left_to_right()
    {
        var loader = new BatchLoader(new IndexDataset(200), 200, seed: 5, randomHorizontalFlip: true);
        using var batch = loader.Next();
        var values = batch.Samples.reshape(200, 2).data<float>().ToArray();

        var flipped = Enumerable.Range(0, 200).Count(i => values[2 * i] > values[2 * i + 1]);
        Assert.InRange(flipped, 70, 130);
    }

    [Fact]
    public void Should_not_alias_the_pooled_buffer_between_batches()
    {
        var loader = new BatchLoader(new IndexDataset(8), 4, seed: 1, shuffle: false);
        using var first = loader.Next();
        using var second = loader.Next();

        Assert.Equal(new float[] { 0, 1, 10, 11, 20, 21, 30, 31 }, first.Samples.data<float>().ToArray());
        Assert.Equal(40f, second.Samples[0, 0, 0, 0].item<float>());
    }

    [Fact]
    public void Should_reject_bad_batch_sizes()
    {
        Assert.Throws<InvalidInputException>(() => new BatchLoader(new IndexDataset(3), 0, seed: 1));
        Assert.Throws<InvalidInputException>(() => new BatchLoader(new IndexDataset(3), 4, seed: 1));
        Assert.Equal(1, new BatchLoader(new IndexDataset(3), 4, seed: 1, dropLast: false).BatchesPerEpoch);
    }

    private static List<float[]> TakeImages(BatchLoader loader, int batches)
    {
        var result = new List<float[]>();
        for (var i = 0; i < batches; i++)
        {
            using var batch = loader.Next();
            result.Add(batch.Samples.data<float>().ToArray());
        }
        return result;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Should_split_every_global_batch_into_disjoint_shards_in_the_same_order(int processes)
    {
        // Given one loader over the whole batch and N loaders over shards 0..N-1, all with the same seed
        var data = new IndexDataset(50);
        var whole = new BatchLoader(data, 8, seed: 4, dropLast: false, randomHorizontalFlip: true);
        var shards = Enumerable.Range(0, processes)
            .Select(r => new BatchLoader(data, 8, seed: 4, dropLast: false, randomHorizontalFlip: true, shard: new DataShard(r, processes))).ToArray();

        // When they read two epochs (the last batch of each is incomplete: 50 = 6 x 8 + 2)
        for (int i = 0; i < 2 * whole.BatchesPerEpoch; i++)
        {
            using var all = whole.Next();
            var parts = shards.Select(l => l.Next()).ToArray();
            try
            {
                // Then the shards, concatenated in rank order, are the whole batch: same samples, same flips, same labels
                // (With 3 processes a last batch of 2 rows leaves one shard empty.)
                Assert.Equal(all.Samples.data<float>().ToArray(), parts.Where(p => p.Samples.numel() > 0).SelectMany(p => p.Samples.data<float>().ToArray()).ToArray());
                Assert.Equal(Labels(all), parts.Where(p => p.Samples.numel() > 0).SelectMany(Labels).ToArray());
                Assert.All(shards, l => Assert.Equal(all.Samples.shape[0], l.LastShard.GlobalRows));
            }
            finally
            {
                foreach (var p in parts) p.Dispose();
            }
        }
    }

    [Fact]
    public void Should_yield_samples_of_any_rank_with_their_labels_as_a_class_condition()
    {
        // Given 1-D samples [2, 5] (two channels of five values)
        var data = new Waves(12);
        var loader = new BatchLoader(data, 4, seed: 1);

        // When a batch is read
        using var batch = loader.Next();

        // Then it is [B, 2, 5] with one label per sample and the dataset's class count as the null class
        Assert.Equal(new long[] { 4, 2, 5 }, batch.Samples.shape);
        var condition = Assert.IsType<DiffusionSharp.Conditioning.ClassLabelCondition>(batch.Condition);
        Assert.Equal(3, condition.NullClass);
        Assert.Equal(new long[] { 4 }, condition.Labels.shape);
    }

    /// <summary>1-D samples: sample i is two rows of five values i·10 + j and -(i·10 + j); label i mod 3.</summary>
    private sealed class Waves(int count) : IDataset
    {
        public int Count => count;
        public IReadOnlyList<int> SampleShape => [2, 5];
        public int NumClasses => 3;
        public IReadOnlyList<string> ClassNames => ["a", "b", "c"];

        public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
        {
            for (var b = 0; b < indices.Length; b++)
            {
                for (var j = 0; j < 5; j++)
                {
                    samples[b * 10 + j] = indices[b] * 10 + j;
                    samples[b * 10 + 5 + j] = -(indices[b] * 10 + j);
                }
                labels[b] = indices[b] % 3;
            }
        }
    }
}
