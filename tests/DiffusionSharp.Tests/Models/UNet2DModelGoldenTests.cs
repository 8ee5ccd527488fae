using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>Given diffusers 0.30.3's own outputs for random-weight UNets (../shared/golden/visible/unet*), the port must reproduce them.</summary>
public sealed class UNet2DModelGoldenTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData("unet")]
    [InlineData("unet_ddpmstyle")]
    public void Should_MatchDiffusersOutput_When_LoadingGoldenFolder(string folder) => MatchGolden(folder, channelsLast: false);

    [Theory]
    [InlineData("unet")]
    [InlineData("unet_ddpmstyle")]
    public void Should_MatchDiffusersOutput_When_RunningChannelsLast(string folder) => MatchGolden(folder, channelsLast: true);

    private void MatchGolden(string folder, bool channelsLast)
    {
        var dir = Path.Combine(TestPaths.Golden, folder);
        using var model = UNet2DModel.FromPretrained(dir);
        if (channelsLast) model.UseChannelsLast();
        var io = SafetensorsFile.Load(Path.Combine(dir, "io.safetensors"));
        try
        {
            using var _ = inference_mode();
            var intermediates = new Dictionary<string, Tensor>();
            io.TryGetValue("class_labels", out var labels);
            using var result = model.Trace(io["sample"], io["timestep"], labels, intermediates);

            foreach (var (name, actual) in intermediates.OrderBy(kv => kv.Key))
            {
                var key = "intermediate." + name;
                Assert.True(io.ContainsKey(key), $"golden file lacks {key}");
                var err = (actual - io[key]).abs().max().item<float>();
                output.WriteLine($"{name,-16} [{string.Join(",", actual.shape)}] max abs err {err:E2}");
                Assert.True(err <= Tolerance, $"{name}: max abs error {err} > {Tolerance}");
                actual.Dispose();
            }
            var max = (result - io["output_fp32"]).abs().max().item<float>();
            output.WriteLine($"output max abs err {max:E3}");
            Assert.Equal(io["output_fp32"].shape, result.shape);
            Assert.True(max <= Tolerance, $"output max abs error {max} > {Tolerance}");
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }
}
