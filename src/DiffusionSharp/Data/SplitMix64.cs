namespace DiffusionSharp.Data;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny counter-based PRNG we own, so a seed gives the same shuffles on
/// every machine and .NET version. The k-th output depends only on (seed, k), which also gives a stateless hash.
/// </summary>
internal struct SplitMix64
{
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;
    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    public ulong NextUInt64()
    {
        _state += Gamma;
        return Mix(_state);
    }

    /// <summary>Uniform in <c>[0, bound)</c> without modulo bias (Lemire's multiply-shift with rejection).</summary>
    public int NextInt(int bound)
    {
        if (bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound), bound, "expected > 0");
        var range = (ulong)bound;
        var threshold = (0UL - range) % range;
        while (true)
        {
            var product = (UInt128)NextUInt64() * range;
            if ((ulong)product >= threshold) return (int)(ulong)(product >> 64);
        }
    }

    /// <summary>A well-mixed 64-bit value for the tuple (a, b, c).</summary>
    public static ulong Hash(ulong a, ulong b, ulong c) => Mix(Mix(Mix(a + Gamma) ^ b) + Gamma ^ c);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
