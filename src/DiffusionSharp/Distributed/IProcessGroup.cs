namespace DiffusionSharp.Distributed;

/// <summary>
/// The processes of one job and the collective operations data-parallel training and sharded sampling use. Every
/// process calls each operation in the same order with buffers of the same length (except <see cref="Gather"/>'s own
/// part); MPI is the implementation (<see cref="ProcessGroups.FromEnvironment"/>), and tests may use threads.
/// </summary>
public interface IProcessGroup : IDisposable
{
    /// <summary>This process, 0..Count-1.</summary>
    int Rank { get; }

    /// <summary>Processes in the group.</summary>
    int Count { get; }

    /// <summary>This process among those on the same host.</summary>
    int LocalRank { get; }

    /// <summary>Processes on this host.</summary>
    int LocalCount { get; }

    /// <summary>Replaces <paramref name="values"/> on every process by their element-wise sum over the processes.</summary>
    void AllreduceSum(Span<float> values);

    /// <summary>Replaces <paramref name="values"/> on every process by their element-wise sum over the processes.</summary>
    void AllreduceSum(Span<double> values);

    /// <summary>Copies <paramref name="root"/>'s <paramref name="values"/> into every other process's.</summary>
    void Broadcast(Span<byte> values, int root);

    /// <summary>
    /// Every process's <paramref name="mine"/> (process r's holds <paramref name="counts"/>[r] values), concatenated in rank
    /// order, on <paramref name="root"/>; an empty array on the others.
    /// </summary>
    float[] Gather(ReadOnlySpan<float> mine, IReadOnlyList<int> counts, int root);

    /// <summary>Ends every process of the job with <paramref name="exitCode"/> (after a failure on this one).</summary>
    void Abort(int exitCode);
}
