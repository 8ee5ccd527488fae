using DiffusionSharp.Conditioning;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>Given diffusers 0.30.3's own outputs for a random-weight SD-1.x-like UNet2DConditionModel (../shared/golden/visible/unet2d_condition), the port must reproduce them.</summary>
public sealed class UNet2DConditionModelGoldenTests(ITestOutputHelper output)
{
    /// <summary>README section 11: atol 1e-4 (fp32 vs fp64 in diffusers itself: 1.8e-6 at max |out| 1.78).</summary>
    private const double Tolerance = 1e-4;

    private static string Folder => Path.Combine(TestPaths.Golden, "unet2d_condition");

    [Fact]
    public void Should_MatchDiffusersOutputAndIntermediates_When_LoadingGoldenFolderByClassName()
    {
        // Given the golden folder, loaded through the class registry (its _class_name is UNet2DConditionModel)
        using var denoiser = Denoisers.FromPretrained(Folder);
        var model = Assert.IsType<UNet2DConditionModel>(denoiser);
        var io = SafetensorsFile.Load(Path.Combine(Folder, "io.safetensors"));
        try
        {
            using var _ = inference_mode();
            var intermediates = new Dictionary<string, Tensor>();

            // When it runs on the stored sample, int64 timesteps and encoder_hidden_states
            using var result = model.Trace(io["sample"], io["timestep"], io["encoder_hidden_states"], null, null, intermediates);

            // Then every recorded module output and the final output match diffusers'
            Assert.Equal(12, intermediates.Count);
            foreach (var (name, actual) in intermediates.OrderBy(kv => kv.Key))
            {
                var key = "intermediate." + name;
                Assert.True(io.ContainsKey(key), $"golden file lacks {key}");
                Assert.Equal(io[key].shape, actual.shape);
                var err = (actual - io[key]).abs().max().item<float>();
                output.WriteLine($"{name,-16} [{string.Join(",", actual.shape)}] max abs err {err:E2}");
                Assert.True(err <= Tolerance, $"{name}: max abs error {err} > {Tolerance}");
                actual.Dispose();
            }
            Assert.Equal(io["output"].shape, result.shape);
            var max = (result - io["output"]).abs().max().item<float>();
            output.WriteLine($"output max abs err {max:E3}");
            Assert.True(max <= Tolerance, $"output max abs error {max} > {Tolerance}");

            // And the IDenoiser call with an EmbeddingCondition gives the same output
            using var nullHidden = zeros(77, 32);
            using var condition = new EmbeddingCondition(io["encoder_hidden_states"].alias(), null, nullHidden);
            using var viaCondition = model.Forward(io["sample"], io["timestep"], condition);
            Assert.Equal(0f, (viaCondition - result).abs().max().item<float>());
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_PassAndFailModelCheck_When_ComparingGoldenReferenceAtTwoTolerances()
    {
        using var model = UNet2DConditionModel.FromPretrained(Folder);
        var result = ModelCheck.Run(model, Path.Combine(Folder, "io.safetensors"));
        Assert.True(result.MaxAbsError <= Tolerance, $"max abs error {result.MaxAbsError}");
        Assert.True(result.MaxAbsError > 0, "an independent port should not agree to the last bit");
        Assert.Equal(12, result.IntermediateMaxAbsErrors.Count);
        Assert.All(result.IntermediateMaxAbsErrors.Values, e => Assert.True(e <= Tolerance));
    }
}
