using DiffusionSharp.Distributed;

namespace DiffusionSharp.Tests.Distributed;

/// <summary>
/// An <see cref="IProcessGroup"/> whose processes are threads of this process: the collectives MPI provides, done with a
/// barrier and shared arrays, summing in rank order (so every member gets bit-equal results, as MPI's do).
/// </summary>
public sealed class ThreadProcessGroup
{
    private readonly Barrier _barrier;
    private readonly object?[] _parts;

    public ThreadProcessGroup(int count)
    {
        Count = count;
        _barrier = new Barrier(count);
        _parts = new object?[count];
    }

    public int Count { get; }

    public IProcessGroup Member(int rank) => new RankOf(this, rank);

    /// <summary>Runs <paramref name="body"/> on one thread per rank and returns each rank's result.</summary>
    public T[] Run<T>(Func<IProcessGroup, T> body)
    {
        var results = new T[Count];
        var errors = new Exception?[Count];
        var threads = Enumerable.Range(0, Count).Select(r => new Thread(() =>
        {
            try { results[r] = body(Member(r)); }
            catch (Exception e) { errors[r] = e; _barrier.RemoveParticipant(); }
        }, 16 << 20)).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (errors.FirstOrDefault(e => e is not null) is { } first) throw new AggregateException(errors.Where(e => e is not null)!);
        return results;
    }

    private void Wait()
    {
        if (!_barrier.SignalAndWait(TimeSpan.FromSeconds(60))) throw new TimeoutException("a rank did not reach the collective");
    }

    private sealed class RankOf(ThreadProcessGroup group, int rank) : IProcessGroup
    {
        public int Rank => rank;
        public int Count => group.Count;
        public int LocalRank => rank;
        public int LocalCount => group.Count;

        public void AllreduceSum(Span<float> values) => Sum(values);

        public void AllreduceSum(Span<double> values) => Sum(values);

        private void Sum<T>(Span<T> values) where T : System.Numerics.INumber<T>
        {
            group._parts[rank] = values.ToArray();
            group.Wait();
            var sum = new T[values.Length];
            Array.Fill(sum, T.Zero);
            for (int r = 0; r < group.Count; r++)
            {
                var part = (T[])group._parts[r]!;
                for (int i = 0; i < sum.Length; i++) sum[i] += part[i];
            }
            group.Wait();
            sum.CopyTo(values);
        }

        public void Broadcast(Span<byte> values, int root)
        {
            if (rank == root) group._parts[root] = values.ToArray();
            group.Wait();
            var data = (byte[])group._parts[root]!;
            group.Wait();
            data.CopyTo(values);
        }

        public float[] Gather(ReadOnlySpan<float> mine, IReadOnlyList<int> counts, int root)
        {
            Assert.Equal(counts[rank], mine.Length);
            group._parts[rank] = mine.ToArray();
            group.Wait();
            var all = rank == root ? group._parts.SelectMany(p => (float[])p!).ToArray() : [];
            group.Wait();
            return all;
        }

        public void Abort(int exitCode) => throw new InvalidOperationException($"abort {exitCode}");

        public void Dispose() { }
    }
}
