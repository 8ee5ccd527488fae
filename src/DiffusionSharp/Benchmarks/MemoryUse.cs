using TorchSharp;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// Memory over a benchmark: the peak resident set (all of the process: .NET heap, libtorch's allocations, mapped
/// libraries) and the resident set and live tensor count at the start and end of the timed windows. A leak shows as
/// growth in both; allocator caching can move the resident set a little without a leak, the tensor count cannot.
/// </summary>
/// <param name="PeakRssMiB">VmHWM at the end, in MiB (null off Linux).</param>
/// <param name="RssStartMiB">VmRSS when the timed windows started.</param>
/// <param name="RssEndMiB">VmRSS when they ended.</param>
/// <param name="LiveTensorsStart">TorchSharp tensors alive on this thread when the timed windows started.</param>
/// <param name="LiveTensorsEnd">... and when they ended.</param>
/// <param name="RssAfterWindowsMiB">VmRSS after each timed window (empty when not tracked).</param>
public sealed record MemoryUse(double? PeakRssMiB, double? RssStartMiB, double? RssEndMiB, long LiveTensorsStart, long LiveTensorsEnd,
    IReadOnlyList<double> RssAfterWindowsMiB)
{
    /// <summary>RSS growth over the timed windows in MiB (null off Linux).</summary>
    public double? RssGrowthMiB => RssEndMiB - RssStartMiB;

    /// <summary>
    /// RSS growth from the end of the first window to the end of the last: glibc keeps freed blocks and settles its
    /// thresholds over the first steps, which the first window absorbs. With one window, <see cref="RssGrowthMiB"/>.
    /// This is what the leak check compares with its limit.
    /// </summary>
    public double? SettledRssGrowthMiB => RssAfterWindowsMiB.Count >= 2 ? RssAfterWindowsMiB[^1] - RssAfterWindowsMiB[0] : RssGrowthMiB;

    /// <summary>Tensors leaked over the timed windows (0 when flat).</summary>
    public long LiveTensorGrowth => LiveTensorsEnd - LiveTensorsStart;

    /// <summary>A snapshot for the start of the timed windows: (RSS bytes, live tensors).</summary>
    public static (long? Rss, long Tensors) Snapshot() =>
        (ProcessMemory.CurrentRssBytes(), DisposeScopeManager.Statistics.ThreadTotalLiveCount);

    /// <summary>The record from a start snapshot and the RSS after each window, read now.</summary>
    public static MemoryUse Since((long? Rss, long Tensors) start, IReadOnlyList<long?>? rssAfterWindows = null)
    {
        var end = Snapshot();
        var windows = rssAfterWindows?.All(r => r is not null) == true ? rssAfterWindows.Select(r => ProcessMemory.ToMiB(r)!.Value).ToList() : [];
        return new MemoryUse(ProcessMemory.ToMiB(ProcessMemory.PeakRssBytes()), ProcessMemory.ToMiB(start.Rss), ProcessMemory.ToMiB(end.Rss),
            start.Tensors, end.Tensors, windows);
    }
}
