using DiffusionSharp.IO;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models.Autoencoders;

/// <summary>
/// Given diffusers 0.30.3's own outputs for random-weight autoencoders (../shared/golden/visible/vae_kl, vae_tiny; README §11),
/// the port must reproduce every recorded output and intermediate within the README's tolerance, atol 1e-4.
/// </summary>
public sealed class AutoencoderGoldenTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    private static string Folder(string name) => Path.Combine(TestPaths.Golden, name);

    private static Dictionary<string, Tensor> LoadIo(string name) => SafetensorsFile.Load(Path.Combine(Folder(name), "io.safetensors"));

    private void AssertClose(string what, Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        var err = (actual.to_type(ScalarType.Float64) - expected.to_type(ScalarType.Float64)).abs().max().item<double>();
        output.WriteLine($"{what,-28} [{string.Join(",", actual.shape)}] max abs err {err:E2}");
        Assert.True(err <= Tolerance, $"{what}: max abs error {err} > {Tolerance}");
    }

    private void AssertIntermediates(Dictionary<string, Tensor> intermediates, Dictionary<string, Tensor> io)
    {
        var expectedKeys = io.Keys.Where(k => k.StartsWith("intermediate.", StringComparison.Ordinal)).Select(k => k["intermediate.".Length..]).Order();
        Assert.Equal(expectedKeys, intermediates.Keys.Order());
        foreach (var (name, actual) in intermediates.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            using (actual) AssertClose("intermediate " + name, actual, io["intermediate." + name]);
        }
    }

    [Fact]
    public void Should_MatchDiffusersForwardAndIntermediates_When_LoadingGoldenAutoencoderKL()
    {
        using var model = AutoencoderKL.FromPretrained(Folder("vae_kl"));
        var io = LoadIo("vae_kl");
        try
        {
            using var mode = inference_mode();
            using var scope = NewDisposeScope();
            var intermediates = new Dictionary<string, Tensor>();
            var result = model.Trace(io["sample"], intermediates);
            AssertClose("output", result, io["output"]);
            AssertIntermediates(intermediates, io);
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_MatchDiffusersPosteriorAndDecode_When_EncodingAndDecodingWithGoldenAutoencoderKL()
    {
        using var model = AutoencoderKL.FromPretrained(Folder("vae_kl"));
        var io = LoadIo("vae_kl");
        try
        {
            using var mode = inference_mode();
            using var scope = NewDisposeScope();
            using var posterior = model.Encode(io["sample"]);
            AssertClose("latent_mean", posterior.Mean, io["latent_mean"]);
            AssertClose("latent_logvar", posterior.LogVar, io["latent_logvar"]);
            AssertClose("latent_std", posterior.Std, io["latent_std"]);
            AssertClose("latent_parameters", cat([posterior.Mean, posterior.LogVar], 1), io["latent_parameters"]);
            AssertClose("latent_sample", posterior.Sample(io["posterior_noise"]), io["latent_sample"]);
            AssertClose("mode = mean", posterior.Mode(), io["latent_mean"]);
            AssertClose("decode_output", model.Decode(io["latents"]), io["decode_output"]);
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_MatchDiffusersLatentsQuantisationAndDecode_When_LoadingGoldenAutoencoderTiny()
    {
        using var model = AutoencoderTiny.FromPretrained(Folder("vae_tiny"));
        var io = LoadIo("vae_tiny");
        try
        {
            using var mode = inference_mode();
            using var scope = NewDisposeScope();
            var latents = model.Encode(io["sample"]);
            AssertClose("encode_latents", latents, io["encode_latents"]);
            var scaled = model.ScaleLatents(latents);
            AssertClose("scale_latents", scaled, io["scale_latents"]);
            AssertClose("decode_of_encode", model.Decode(latents), io["decode_of_encode"]);
            AssertClose("decode_output", model.Decode(io["latents"]), io["decode_output"]);

            // README §11: the uint8 step must match exactly; an input within ~1e-5 of a .5 boundary may round the other way, and then
            // the forward output is graded through decode_of_encode instead.
            var quantized = AutoencoderTiny.QuantizeLatents(scaled).to_type(ScalarType.Int64);
            var offByOne = (quantized - io["forward_quantized_latents"]).abs();
            var wrong = offByOne.gt(0).sum().item<long>();
            output.WriteLine($"quantised latents differing from diffusers: {wrong} of {quantized.numel()}");
            Assert.True(offByOne.max().item<long>() <= 1 && wrong <= 1, $"{wrong} quantised latents differ (largest by {offByOne.max().item<long>()})");

            var intermediates = new Dictionary<string, Tensor>();
            var result = model.Trace(io["sample"], intermediates);
            if (wrong == 0)
            {
                AssertClose("output", result, io["output"]);
                AssertIntermediates(intermediates, io);
            }
            else
            {
                foreach (var t in intermediates.Values) t.Dispose();
            }
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Fact]
    public void Should_MatchStableDiffusionPipelineDecode_When_DecodingFinalLatentsOfGoldenChain()
    {
        // README §12 steps 7: scaled_latents = latents / 0.18215, image = vae.decode(scaled_latents); image tolerance atol 1e-3.
        var chain = Path.Combine(TestPaths.Golden, "sd_chain");
        using var model = AutoencoderLoader.FromPretrained(chain);
        var io = SafetensorsFile.Load(Path.Combine(chain, "chain.safetensors"));
        try
        {
            using var mode = inference_mode();
            using var scope = NewDisposeScope();
            var kl = Assert.IsType<AutoencoderKL>(model);
            AssertClose("scaled_latents", kl.UnscaleLatents(io["final_latents"]), io["scaled_latents"]);
            var image = model.LatentsToImage(io["final_latents"]);
            Assert.Equal(io["image"].shape, image.shape);
            var err = (image - io["image"]).abs().max().item<float>();
            output.WriteLine($"pipeline image max abs err {err:E2}");
            Assert.True(err <= 1e-3, $"image: max abs error {err} > 1e-3");
        }
        finally
        {
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Theory]
    [InlineData("vae_kl", 658_375)]
    [InlineData("vae_tiny", 155_079)]
    public void Should_CountParametersLikeDiffusers_When_LoadingGoldenFolders(string folder, long expected)
    {
        using var model = AutoencoderLoader.FromPretrained(Folder(folder));
        Assert.Equal(expected, model.Module.parameters().Sum(p => p.numel()));
    }
}
