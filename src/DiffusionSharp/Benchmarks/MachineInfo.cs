using System.Runtime.InteropServices;
using DiffusionSharp.Runtime;
using TorchSharp;

namespace DiffusionSharp.Benchmarks;

/// <summary>Where a benchmark ran: enough to compare numbers across machines and versions.</summary>
/// <param name="Cores">Logical processors the process may use.</param>
/// <param name="Cpu">CPU model (<c>/proc/cpuinfo</c>), or "unknown".</param>
/// <param name="Os">Operating system description.</param>
/// <param name="Threads">libtorch intra-op threads in force.</param>
/// <param name="TorchSharp">TorchSharp assembly version.</param>
/// <param name="LibTorch">libtorch version.</param>
/// <param name="DotNet">.NET runtime version.</param>
/// <param name="LoadAverage">1-minute load average when the report was made (Linux), or null. It counts this benchmark's own busy threads too: clearly above <see cref="Threads"/>, other processes competed.</param>
public sealed record MachineInfo(int Cores, string Cpu, string Os, int Threads, string TorchSharp, string LibTorch, string DotNet, double? LoadAverage)
{
    /// <summary>This machine, now; loads libtorch.</summary>
    public static MachineInfo Current()
    {
        var (torchSharp, libTorch) = TorchRuntime.Versions();
        return new MachineInfo(Environment.ProcessorCount, CpuModel(), RuntimeInformation.OSDescription, torch.get_num_threads(),
            torchSharp, libTorch, RuntimeInformation.FrameworkDescription, ReadLoadAverage());
    }

    private static string CpuModel()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path)) return "unknown";
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
    }

    private static double? ReadLoadAverage()
    {
        const string path = "/proc/loadavg";
        if (!File.Exists(path)) return null;
        var first = File.ReadAllText(path).Split(' ')[0];
        return double.TryParse(first, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var load) ? load : null;
    }
}
