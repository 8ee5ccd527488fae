using System.Runtime.InteropServices;

namespace DiffusionSharp.Runtime;

/// <summary>
/// glibc <c>malloc</c>'s mmap threshold, where libtorch's CPU tensors come from. By default it rises (up to 32 MiB) after
/// large blocks are freed, so later tensors of a few MiB come from the heap, which keeps the pages of freed blocks
/// resident behind long-lived ones. With activation recomputation that retained heap, not live tensors, was most of the
/// peak RSS (mnist-small, batch 128: 1919 MiB by default, 929 MiB with a 1 MiB threshold; docs/benchmarks.md).
/// </summary>
public static class NativeAllocator
{
    /// <summary>M_MMAP_THRESHOLD in glibc's malloc.h.</summary>
    private const int MmapThresholdParameter = -3;

    /// <summary>The threshold <see cref="UseOwnMappingsFrom"/> is given for recomputation: 1 MiB.</summary>
    public const int RecomputationThresholdBytes = 1 << 20;

    /// <summary>
    /// Serves every later allocation of at least <paramref name="bytes"/> from its own mapping, returned to the kernel
    /// when freed (a fixed threshold also stops glibc from raising it). Costs page faults on each such allocation.
    /// </summary>
    /// <returns>Whether it was set: false off Linux or without glibc's <c>mallopt</c>.</returns>
    public static bool UseOwnMappingsFrom(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(MmapThresholdParameter, bytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc")]
    private static extern int mallopt(int param, int value);
}
