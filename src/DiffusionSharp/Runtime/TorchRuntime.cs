using System.Runtime.InteropServices;
using TorchSharp;

namespace DiffusionSharp.Runtime;

/// <summary>
/// TorchSharp start-up: checks that libtorch loads (with a one-line diagnosis when it does not), sets the thread count
/// once, and resolves the compute device.
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _initialised;
    private static int _threads = DefaultThreads;

    /// <summary>
    /// The number of threads libtorch uses when none is asked for: 1. On the project's 2-core machine under load from
    /// other work, 2 threads ran mnist-nano training and sampling 9-18x slower than 1 (libtorch's OpenMP threads wait for
    /// each other whenever one of them loses its core); idle, the same machine gained about 1.7x from 2 threads
    /// (mnist-small training at batch 128). The loss on a shared machine is far larger than the gain on a quiet one, so
    /// more threads are asked for explicitly (docs/benchmarks.md, issue 16).
    /// </summary>
    public static int DefaultThreads => 1;

    /// <summary>The thread count the last <see cref="Initialize"/> asked for (<see cref="DefaultThreads"/> before it).</summary>
    public static int Threads => Volatile.Read(ref _threads);

    /// <summary>
    /// Gives the calling thread <see cref="Threads"/> libtorch threads if it has another count. libtorch's OpenMP keeps
    /// the count per OS thread: a thread that ran tensor work before a later <see cref="Initialize"/> keeps the count of
    /// its first use, and a different count changes how reductions split, so the last bits of a result. Call it at the
    /// start of work on a long-lived thread of its own (the studio's worker) so its results match the CLI's bit for bit.
    /// </summary>
    public static void ApplyThreads()
    {
        int wanted = Threads;
        if (torch.get_num_threads() != wanted) torch.set_num_threads(wanted);
    }

    /// <summary>The devices a caller may ask for by name.</summary>
    public static IReadOnlyList<string> DeviceNames { get; } = ["cpu", "cuda"];

    /// <summary>
    /// Loads libtorch, sets its intra-op thread count and resolves <paramref name="device"/>. Call once at start-up,
    /// before any tensor work.
    /// </summary>
    /// <param name="threads">Threads for libtorch's parallel kernels; null for <see cref="DefaultThreads"/>.</param>
    /// <param name="device"><c>cpu</c> or <c>cuda</c> (see <see cref="ResolveDevice"/>).</param>
    /// <returns>The device the networks should live on.</returns>
    /// <exception cref="InvalidInputException"><paramref name="threads"/> is less than 1, or the device is unknown or absent.</exception>
    /// <exception cref="TorchUnavailableException">libtorch or TorchSharp's native library did not load.</exception>
    public static torch.Device Initialize(int? threads = null, string device = "cpu")
    {
        if (threads is < 1) throw new InvalidInputException($"threads must be at least 1 (got {threads})", "TorchRuntime.threads");
        lock (Gate)
        {
            EnsureLoaded();
            Volatile.Write(ref _threads, threads ?? DefaultThreads);
            torch.set_num_threads(_threads);
            _initialised = true;
        }
        return ResolveDevice(device);
    }

    /// <summary>
    /// The device named <paramref name="name"/>: <c>cpu</c>, or <c>cuda</c> when TorchSharp's CUDA backend is present
    /// (a TorchSharp-cuda package and a GPU). Random draws stay on the CPU generator either way.
    /// </summary>
    /// <exception cref="InvalidInputException">Not cpu or cuda, or cuda without the backend.</exception>
    public static torch.Device ResolveDevice(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        switch (name.ToLowerInvariant())
        {
            case "cpu":
                return torch.CPU;
            case "cuda":
                EnsureLoaded();
                if (!torch.cuda.is_available())
                    throw new InvalidInputException(
                        "device: cuda is not available (this build has TorchSharp's CPU backend only, or no GPU is visible); use cpu", DeviceProperty);
                return torch.CUDA;
            default:
                throw new InvalidInputException($"device: unknown device '{name}' (expected {string.Join(" or ", DeviceNames)})", DeviceProperty);
        }
    }

    /// <summary>The <see cref="InvalidInputException.Property"/> of device errors.</summary>
    public const string DeviceProperty = "TorchRuntime.device";

    /// <summary>Whether <see cref="Initialize"/> has run in this process.</summary>
    public static bool IsInitialised => _initialised;

    /// <summary>TorchSharp's and libtorch's versions, for benchmark reports.</summary>
    public static (string TorchSharp, string LibTorch) Versions()
    {
        EnsureLoaded();
        return (typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown", torch.__version__);
    }

    private static void EnsureLoaded()
    {
        ProbeNativeLibrary();
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException or BadImageFormatException)
        {
            throw new TorchUnavailableException(Diagnose(e), e);
        }
    }

    /// <summary>
    /// Loads the application's copy of libLibTorchSharp.so before TorchSharp does, so that a library the loader refuses
    /// is reported with the loader's own reason. TorchSharp's message does not carry that reason, and after a failed load
    /// it copies every libtorch binary from the NuGet cache into a folder beside the application.
    /// </summary>
    private static void ProbeNativeLibrary()
    {
        if (!OperatingSystem.IsLinux()) return;
        string? path = new[]
        {
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", NativeLibraryFile),
            Path.Combine(AppContext.BaseDirectory, NativeLibraryFile),
        }.FirstOrDefault(File.Exists);
        if (path is null) return;
        try
        {
            NativeLibrary.Load(path);
        }
        catch (DllNotFoundException e)
        {
            throw new TorchUnavailableException(Diagnose(e, path), e);
        }
    }

    private const string NativeLibraryFile = "libLibTorchSharp.so";

    private static string Diagnose(Exception e, string? path = null)
    {
        string all = string.Join(" | ", Chain(e).Select(x => x.Message));
        if (all.Contains("GLIBCXX", StringComparison.Ordinal))
            return $"TorchSharp's native library {path ?? NativeLibraryFile} did not load: this system's libstdc++ is older than the GCC 13 one "
                + "it was built against (GLIBCXX_3.4.32 not found). DiffusionSharp's build step marks that requirement weak in the build "
                + "output (the repository's Directory.Build.targets, or the DiffusionSharp package's build targets); this copy was not "
                + "patched: build or publish the application with 'dotnet build' / 'dotnet publish' instead of copying the file.";
        return "TorchSharp's native library did not load (" + Chain(e).Last().Message.Split('\n')[0].Trim()
            + "). Likely cause: the libtorch-cpu runtime files are missing from the output folder or this is not a linux-x64 machine.";
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException) yield return x;
    }
}

/// <summary>libtorch could not be loaded; the message is a one-line diagnosis with the likely cause.</summary>
public sealed class TorchUnavailableException : Exception
{
    public TorchUnavailableException(string message, Exception inner) : base(message, inner) { }
}
