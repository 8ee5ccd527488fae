using DiffusionSharp.Imaging;
using Xunit;

namespace DiffusionSharp.Tests.Imaging;

public sealed class PixelValuesTests
{
    [Fact]
    public void Should_round_trip_all_256_byte_values_exactly()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var floats = new float[256];
        var back = new byte[256];

        PixelValues.ToSigned(bytes, floats);
        PixelValues.ToBytes(floats, back);

        Assert.Equal(bytes, back);
        Assert.Equal(-1f, floats[0]);
        Assert.Equal(1f, floats[255]);
        Assert.All(floats, f => Assert.InRange(f, -1f, 1f));
    }

    [Theory]
    [InlineData(-5f, 0)]
    [InlineData(7f, 255)]
    [InlineData(float.NaN, 0)]
    [InlineData(float.PositiveInfinity, 255)]
    [InlineData(0f, 128)]
    public void Should_clamp_and_round_values_outside_the_range(float value, byte expected) =>
        Assert.Equal(expected, PixelValues.ToByte(value));
}
