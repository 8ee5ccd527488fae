namespace DiffusionSharp.Data;

/// <summary>
/// Process <see cref="Rank"/>'s part of every global batch when <see cref="Count"/> processes train together: rows
/// <c>[n·r/N, n·(r+1)/N)</c> of a batch of n rows. The shards of one global batch are disjoint and together are the batch a
/// single process would draw, in the same order. A batch of fewer rows than processes leaves some shards empty, so
/// data-parallel training should drop the last incomplete batch of an epoch (the trainer does whenever the dataset
/// holds at least one batch).
/// </summary>
/// <param name="Rank">This process, 0..Count-1.</param>
/// <param name="Count">Processes, N ≥ 1.</param>
public sealed record DataShard(int Rank, int Count)
{
    /// <summary>The whole batch: one process.</summary>
    public static DataShard Whole { get; } = new(0, 1);

    /// <summary>Checks 0 ≤ rank &lt; count.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Count, 1, nameof(Count));
        ArgumentOutOfRangeException.ThrowIfNegative(Rank, nameof(Rank));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(Rank, Count, nameof(Rank));
    }

    /// <summary>This shard's rows <c>[Start, Start + Length)</c> of a batch of <paramref name="rows"/>.</summary>
    public (int Start, int Length) RowsOf(int rows)
    {
        int start = (int)((long)rows * Rank / Count), end = (int)((long)rows * (Rank + 1) / Count);
        return (start, end - start);
    }
}
