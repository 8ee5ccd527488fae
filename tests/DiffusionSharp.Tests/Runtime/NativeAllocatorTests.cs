using DiffusionSharp.Runtime;

namespace DiffusionSharp.Tests.Runtime;

/// <summary>The mmap threshold that <c>--checkpoint-activations</c> sets (glibc's <c>mallopt</c>).</summary>
public sealed class NativeAllocatorTests
{
    [Fact]
    public void Should_set_the_mmap_threshold_through_glibc_on_linux()
    {
        // Given this process (glibc on Linux, as the project's machines)
        // When the recomputation threshold is set
        bool set = NativeAllocator.UseOwnMappingsFrom(NativeAllocator.RecomputationThresholdBytes);

        // Then mallopt accepted it on Linux, and nothing was attempted elsewhere
        Assert.Equal(OperatingSystem.IsLinux(), set);
    }

    [Fact]
    public void Should_refuse_a_threshold_of_zero_bytes() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeAllocator.UseOwnMappingsFrom(0));
}
