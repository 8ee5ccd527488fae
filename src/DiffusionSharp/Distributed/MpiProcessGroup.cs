using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DiffusionSharp.Distributed;

/// <summary>
/// The MPI job this process belongs to, through MPI.NET over an MPICH-ABI library (MPICH, Intel MPI, MVAPICH, Cray MPICH).
/// The only type that touches MPI.NET, and only once <see cref="Open"/> is called, so a process that runs alone never
/// loads MPI.NET or an MPI library.
/// </summary>
/// <remarks>
/// MPI.NET 1.4.0 binds to <c>msmpi.dll</c>; MS-MPI and MPICH share one ABI (integer handles, the same constants), so a
/// <see cref="NativeLibrary.SetDllImportResolver"/> on MPI.NET's assembly maps <c>msmpi</c> to <c>libmpich.so.12</c>.
/// The collectives go through MPI.NET's C bindings (<c>MPI.Unsafe</c>) rather than its generic API: they work in place on
/// tensor memory (no copy into managed arrays), and the generic API registers datatypes it never frees (MPICH then warns
/// at exit on every rank) and serialises anything but primitives with BinaryFormatter, which .NET 10 no longer has.
/// </remarks>
internal sealed unsafe class MpiProcessGroup : IProcessGroup
{
    /// <summary>The libraries tried, in order, unless <c>DIFFUSE_MPI_LIBRARY</c> names the one to load: MPICH's and Intel MPI's sonames.</summary>
    private static readonly string[] Candidates = ["libmpich.so.12", "libmpi.so.12"];
    private static readonly object Gate = new();
    private static IntPtr s_library;

    private readonly IDisposable _environment;
    private bool _disposed;

    private MpiProcessGroup(MpiLaunch launch)
    {
        _environment = Initialize();
        Rank = WorldRank();
        Count = WorldSize();
        if (Rank != launch.Rank || Count != launch.Size)
            throw new InvalidOperationException($"MPI says rank {Rank} of {Count} but the launcher said {launch.Rank} of {launch.Size}");
        (LocalRank, LocalCount) = launch is { LocalRank: { } lr, LocalSize: { } ls } ? (lr, ls) : HostPlace();
    }

    /// <summary>Loads the MPI library, initialises MPI and joins the job <paramref name="launch"/> describes.</summary>
    /// <exception cref="InvalidInputException">No MPICH-ABI library could be loaded.</exception>
    public static IProcessGroup Open(MpiLaunch launch)
    {
        LoadLibrary();
        return Join(launch);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static MpiProcessGroup Join(MpiLaunch launch) => new(launch);

    public int Rank { get; }
    public int Count { get; }
    public int LocalRank { get; }
    public int LocalCount { get; }

    public void AllreduceSum(Span<float> values)
    {
        fixed (float* p = values) Check(AllreduceInPlace((IntPtr)p, values.Length, isDouble: false), "MPI_Allreduce");
    }

    public void AllreduceSum(Span<double> values)
    {
        fixed (double* p = values) Check(AllreduceInPlace((IntPtr)p, values.Length, isDouble: true), "MPI_Allreduce");
    }

    public void Broadcast(Span<byte> values, int root)
    {
        fixed (byte* p = values) Check(Bcast((IntPtr)p, values.Length, root), "MPI_Bcast");
    }

    public float[] Gather(ReadOnlySpan<float> mine, IReadOnlyList<int> counts, int root)
    {
        if (counts.Count != Count) throw new ArgumentException($"one count per process ({Count}) is required", nameof(counts));
        if (mine.Length != counts[Rank]) throw new ArgumentException($"this process's part has {mine.Length} values, not {counts[Rank]}", nameof(mine));
        var sizes = counts.ToArray();
        var offsets = new int[Count];
        for (int r = 1; r < Count; r++) offsets[r] = checked(offsets[r - 1] + sizes[r - 1]);
        var all = new float[Rank == root ? checked(offsets[^1] + sizes[^1]) : 0];
        fixed (float* send = mine)
        fixed (float* receive = all)
            Check(Gatherv((IntPtr)send, mine.Length, (IntPtr)receive, sizes, offsets, root), "MPI_Gatherv");
        return all;
    }

    public void Abort(int exitCode) => AbortWorld(exitCode);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _environment.Dispose();
    }

    private static void LoadLibrary()
    {
        lock (Gate)
        {
            if (s_library != IntPtr.Zero) return;
            var names = Environment.GetEnvironmentVariable("DIFFUSE_MPI_LIBRARY") is { Length: > 0 } given ? [given] : Candidates;
            foreach (string name in names)
                if (NativeLibrary.TryLoad(name, out s_library)) break;
            if (s_library == IntPtr.Zero)
                throw new InvalidInputException(
                    $"Launcher: an MPI launcher started this process but no MPICH-ABI library loads ({string.Join(", ", names)}); install mpich (apt-get install mpich) or set DIFFUSE_MPI_LIBRARY",
                    MpiLaunch.LauncherProperty);
            SetResolver();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SetResolver() =>
        NativeLibrary.SetDllImportResolver(typeof(MPI.Unsafe).Assembly, (name, _, _) =>
            name.StartsWith("msmpi", StringComparison.OrdinalIgnoreCase) ? s_library : IntPtr.Zero);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IDisposable Initialize()
    {
        var args = Array.Empty<string>();
        return new MPI.Environment(ref args, MPI.Threading.Serialized);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int WorldRank()
    {
        Check(MPI.Unsafe.MPI_Comm_rank(MPI.Unsafe.MPI_COMM_WORLD, out int rank), "MPI_Comm_rank");
        return rank;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int WorldSize()
    {
        Check(MPI.Unsafe.MPI_Comm_size(MPI.Unsafe.MPI_COMM_WORLD, out int size), "MPI_Comm_size");
        return size;
    }

    /// <summary>MPI_IN_PLACE is <c>(void*)-1</c> in the MPICH ABI (and in MS-MPI's).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int AllreduceInPlace(IntPtr buffer, int count, bool isDouble) =>
        MPI.Unsafe.MPI_Allreduce(new IntPtr(-1), buffer, count, isDouble ? MPI.Unsafe.MPI_DOUBLE : MPI.Unsafe.MPI_FLOAT,
            MPI.Unsafe.MPI_SUM, MPI.Unsafe.MPI_COMM_WORLD);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Bcast(IntPtr buffer, int count, int root) =>
        MPI.Unsafe.MPI_Bcast(buffer, count, MPI.Unsafe.MPI_BYTE, root, MPI.Unsafe.MPI_COMM_WORLD);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Gatherv(IntPtr send, int count, IntPtr receive, int[] counts, int[] offsets, int root) =>
        MPI.Unsafe.MPI_Gatherv(send, count, MPI.Unsafe.MPI_FLOAT, receive, counts, offsets, MPI.Unsafe.MPI_FLOAT, root, MPI.Unsafe.MPI_COMM_WORLD);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AbortWorld(int code) => MPI.Unsafe.MPI_Abort(MPI.Unsafe.MPI_COMM_WORLD, code);

    /// <summary>Without the launcher's local rank: the ranks whose processor (host) name equals ours.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private (int LocalRank, int LocalCount) HostPlace()
    {
        const int width = 256;
        var name = new byte[Math.Max(width, MPI.Unsafe.MPI_MAX_PROCESSOR_NAME + 1)];
        int length = name.Length;
        Check(MPI.Unsafe.MPI_Get_processor_name(name, ref length), "MPI_Get_processor_name");
        var mine = new byte[width];
        name.AsSpan(0, Math.Clamp(length, 0, width - 1)).CopyTo(mine);
        var all = new byte[width * Count];
        var counts = Enumerable.Repeat(width, Count).ToArray();
        var offsets = Enumerable.Range(0, Count).Select(r => r * width).ToArray();
        fixed (byte* send = mine)
        fixed (byte* receive = all)
            Check(MPI.Unsafe.MPI_Allgatherv((IntPtr)send, width, MPI.Unsafe.MPI_BYTE, (IntPtr)receive, counts, offsets,
                MPI.Unsafe.MPI_BYTE, MPI.Unsafe.MPI_COMM_WORLD), "MPI_Allgatherv");
        bool Same(int r) => all.AsSpan(r * width, width).SequenceEqual(mine);
        int before = Enumerable.Range(0, Rank).Count(Same);
        return (before, Enumerable.Range(0, Count).Count(Same));
    }

    private static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}");
    }
}
