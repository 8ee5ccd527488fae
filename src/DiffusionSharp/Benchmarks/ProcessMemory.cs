using System.Globalization;

namespace DiffusionSharp.Benchmarks;

/// <summary>This process's resident memory, from <c>/proc/self/status</c> (Linux); null elsewhere.</summary>
public static class ProcessMemory
{
    private const string StatusPath = "/proc/self/status";

    /// <summary>Peak resident set size in bytes since the process started (<c>VmHWM</c>): native libtorch memory included.
    /// The kernel updates VmHWM lazily (per-thread RSS counters are folded in later), so it can briefly read below
    /// VmRSS; the larger of the two is returned, and never less than an earlier reading (a peak since the start cannot
    /// fall, but a lagging VmHWM read after a VmRSS that had run ahead of it would).</summary>
    public static long? PeakRssBytes()
    {
        long? hwm = Read("VmHWM:"), rss = Read("VmRSS:");
        if (hwm is null) return null;
        long reading = Math.Max(hwm.Value, rss ?? 0);
        while (true)
        {
            long seen = Interlocked.Read(ref _highest);
            if (reading <= seen) return seen;
            if (Interlocked.CompareExchange(ref _highest, reading, seen) == seen) return reading;
        }
    }

    private static long _highest;

    /// <summary>Current resident set size in bytes (<c>VmRSS</c>).</summary>
    public static long? CurrentRssBytes() => Read("VmRSS:");

    /// <summary>Bytes as mebibytes, for reports.</summary>
    public static double? ToMiB(long? bytes) => bytes / (1024.0 * 1024.0);

    private static long? Read(string key)
    {
        if (!File.Exists(StatusPath)) return null;
        foreach (var line in File.ReadLines(StatusPath))
        {
            if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
            // "VmHWM:\t  123456 kB"
            var parts = line[key.Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 1 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long kib)) return kib * 1024;
        }
        return null;
    }
}
