using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Runtime;

public sealed class TorchSharpLoadsTests
{
    [Fact]
    public void Should_initialise_libtorch_and_compute_a_matmul()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        using var b = tensor(new float[] { 5, 6, 7, 8 }, 2, 2);
        using var c = a.matmul(b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
        using var r = randn(2, 2);
        Assert.Equal(new long[] { 2, 2 }, r.shape);
    }
}
