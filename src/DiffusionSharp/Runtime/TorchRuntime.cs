using TorchSharp;

namespace DiffusionSharp.Runtime;

/// <summary>
/// TorchSharp start-up: checks that libtorch loads (with a one-line diagnosis when it does not), sets the thread count
/// once, and seeds the global generator.
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _initialised;

    /// <summary>The number of threads libtorch uses when none is asked for: the machine's logical processors.</summary>
    public static int DefaultThreads => Environment.ProcessorCount;

    /// <summary>
    /// Loads libtorch and sets its intra-op thread count. Call once at start-up, before any tensor work.
    /// </summary>
    /// <param name="threads">Threads for libtorch's parallel kernels; null for <see cref="DefaultThreads"/>.</param>
    /// <exception cref="InvalidInputException"><paramref name="threads"/> is less than 1.</exception>
    /// <exception cref="TorchUnavailableException">libtorch or TorchSharp's native library did not load.</exception>
    public static void Initialize(int? threads = null)
    {
        if (threads is < 1) throw new InvalidInputException($"--threads must be at least 1 (got {threads})");
        lock (Gate)
        {
            EnsureLoaded();
            torch.set_num_threads(threads ?? DefaultThreads);
            _initialised = true;
        }
    }

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
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException or BadImageFormatException)
        {
            throw new TorchUnavailableException(Diagnose(e), e);
        }
    }

    private static string Diagnose(Exception e)
    {
        string all = string.Join(" | ", Chain(e).Select(x => x.Message));
        if (all.Contains("GLIBCXX", StringComparison.Ordinal))
            return "TorchSharp's native library did not load: this system's libstdc++ is older than the GCC 13 one it was built against "
                + "(GLIBCXX_3.4.32 not found). Build with 'dotnet build' or 'dotnet publish' from this repository, which marks that requirement weak in the output copy.";
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
