using DiffusionSharp.Runtime;
using DiffusionSharp.Tests.Studio;
using TorchSharp;

namespace DiffusionSharp.Tests.Runtime;

/// <summary>
/// libtorch's OpenMP thread count is kept per OS thread: <see cref="TorchRuntime.ApplyThreads"/> brings a long-lived thread
/// that used tensors before a later <see cref="TorchRuntime.Initialize"/> to the count asked for (the studio's worker).
/// Runs in the studio's collection, which runs alone, because it changes the process's thread count for a moment.
/// </summary>
[Collection(StudioCollection.Name)]
public sealed class ThreadCountTests
{
    [Fact]
    public void Should_give_a_thread_that_kept_an_earlier_count_the_count_asked_for_last()
    {
        int before = TorchRuntime.Threads;
        try
        {
            // Given a thread that ran tensor work while the process asked for 2 threads
            TorchRuntime.Initialize(2);
            using var go = new SemaphoreSlim(0);
            using var done = new SemaphoreSlim(0);
            int first = 0, kept = 0, applied = 0;
            var worker = new Thread(() =>
            {
                first = torch.get_num_threads();
                using (var x = torch.ones(1 << 20)) x.sum().Dispose();
                done.Release();
                go.Wait();
                kept = torch.get_num_threads();
                TorchRuntime.ApplyThreads();
                applied = torch.get_num_threads();
            });
            worker.Start();
            done.Wait();

            // When another thread asks for 1 and the first thread applies the process's count
            TorchRuntime.Initialize(1);
            go.Release();
            worker.Join();

            // Then the first thread had kept its 2 (what made a studio clip differ from the CLI's) and now has 1
            Assert.Equal((2, 2, 1, 1), (first, kept, applied, TorchRuntime.Threads));
        }
        finally
        {
            TorchRuntime.Initialize(before);
        }
    }
}
