using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace DiffusionSharp.Distributed;

/// <summary>
/// Sharded sampling: the set of <c>count</c> samples is cut into batches of <c>batchSize</c> (the last may be short),
/// and each process generates a contiguous run of whole batches, so every batch holds the same samples whatever the
/// number of processes; with per-sample seeding (<see cref="Pipelines.DiffusionPipeline.GenerateRange(int, int, int, long, IReadOnlyList{long}?, double, int, Action{int, Samplers.SamplingStep}?)"/>)
/// the gathered set is bit-identical to one process's.
/// </summary>
public static class SampleShards
{
    /// <summary>Process <paramref name="rank"/>'s samples <c>[First, First + Count)</c>: batches <c>[K·r/N, K·(r+1)/N)</c> of the K batches.</summary>
    public static (int First, int Count) RangeOf(int count, int batchSize, int rank, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        new Data.DataShard(rank, ranks).Validate();
        long batches = (count + (long)batchSize - 1) / batchSize;
        int firstBatch = (int)(batches * rank / ranks), endBatch = (int)(batches * (rank + 1) / ranks);
        int first = (int)Math.Min(count, (long)firstBatch * batchSize), end = (int)Math.Min(count, (long)endBatch * batchSize);
        return (first, end - first);
    }

    /// <summary>
    /// Gathers every process's samples (<paramref name="mine"/>, float32 <c>[n, C, ...]</c>, null when it has none) on rank 0
    /// in sample order: the whole set <c>[count, C, ...]</c> there, null on the other processes.
    /// </summary>
    public static Tensor? GatherToRankZero(IProcessGroup group, Tensor? mine, int count, int batchSize, IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(group);
        int perSample = sampleShape.Aggregate(1, (a, b) => checked(a * b));
        var counts = Enumerable.Range(0, group.Count).Select(r => checked(RangeOf(count, batchSize, r, group.Count).Count * perSample)).ToArray();
        using var host = mine?.to_type(ScalarType.Float32).cpu().contiguous();
        var values = host is null ? [] : MemoryMarshal.Cast<byte, float>(host.bytes);
        var all = group.Gather(values, counts, root: 0);
        if (group.Rank != 0) return null;
        return TorchSharp.torch.tensor(all, [count, .. sampleShape.Select(d => (long)d)]);
    }
}
