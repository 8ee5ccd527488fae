using System.Globalization;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>
/// Sizes of the reliability tests: the suite runs quick versions; environment variables select the long ones
/// (see docs/reliability.md), e.g. <c>FUZZ_ITERATIONS=100000 dotnet test --filter Fuzz</c>.
/// </summary>
internal static class ReliabilitySettings
{
    /// <summary>Mutated files per fuzz run (FUZZ_ITERATIONS, default 2,000).</summary>
    public static int FuzzIterations => Int("FUZZ_ITERATIONS", 2000);

    /// <summary>Seed of the fuzz run (FUZZ_SEED, default 1).</summary>
    public static int FuzzSeed => Int("FUZZ_SEED", 1);

    /// <summary>SIGKILLs per crash-safety run (KILL_ITERATIONS, default 5).</summary>
    public static int Kills => Int("KILL_ITERATIONS", 5);

    /// <summary>Seed of the kill moments (KILL_SEED, default 1).</summary>
    public static int KillSeed => Int("KILL_SEED", 1);

    private static int Int(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
}
