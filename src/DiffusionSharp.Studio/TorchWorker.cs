using System.Collections.Concurrent;
using TorchSharp;

namespace DiffusionSharp.Studio;

/// <summary>
/// A thread of its own that runs tensor work one item at a time, with a bounded number of items admitted. TorchSharp's
/// dispose scopes, inference mode and live-tensor statistics are per thread, and libtorch already uses every core for
/// one item: so request handlers never touch tensors, they hand the work here, and the server's tensors are this
/// thread's (<see cref="LiveTensorsAsync"/>).
/// </summary>
internal sealed class TorchWorker : IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Thread _thread;
    private int _admitted;

    /// <summary>Starts the thread.</summary>
    /// <param name="name">The thread's name.</param>
    /// <param name="capacity">Items admitted at once: the running one plus those waiting.</param>
    public TorchWorker(string name, int capacity)
    {
        Capacity = capacity;
        _thread = new Thread(Loop) { Name = name, IsBackground = true };
        _thread.Start();
    }

    /// <summary>Items admitted at once, the running one included.</summary>
    public int Capacity { get; }

    /// <summary>Items admitted and not finished.</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Runs <paramref name="work"/> on the thread, or returns null at once when <see cref="Capacity"/> items are admitted.</summary>
    public Task<T>? TryRun<T>(Func<T> work)
    {
        if (Interlocked.Increment(ref _admitted) > Capacity)
        {
            Interlocked.Decrement(ref _admitted);
            return null;
        }
        return Enqueue(work, admitted: true);
    }

    /// <summary>The number of TorchSharp tensors alive on the thread, read on the thread after the work admitted before it.</summary>
    public Task<long> LiveTensorsAsync() => Enqueue(() => DisposeScopeManager.Statistics.ThreadTotalLiveCount, admitted: false);

    private Task<T> Enqueue<T>(Func<T> work, bool admitted)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add(() =>
        {
            try
            {
                Runtime.TorchRuntime.ApplyThreads();
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
            finally
            {
                if (admitted) Interlocked.Decrement(ref _admitted);
            }
        });
        return done.Task;
    }

    private void Loop()
    {
        foreach (var item in _queue.GetConsumingEnumerable()) item();
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
        _queue.Dispose();
    }
}
