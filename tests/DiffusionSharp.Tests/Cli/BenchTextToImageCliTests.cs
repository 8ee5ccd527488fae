using System.Text.Json;
using DiffusionSharp.Cli;
using DiffusionSharp.Pipelines;
using Xunit;

namespace DiffusionSharp.Tests.Cli;

/// <summary>
/// <c>diffuse bench sample</c> on a text-to-image pipeline preset: one JSON object with the phases, the parameter counts
/// and the machine; bad sizes and options that do not apply fail with exit 2 and one line before any weight is drawn.
/// Never asserts speed.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class BenchTextToImageCliTests
{
    [Fact]
    public void Should_print_one_json_object_with_the_phases_and_parameter_counts_for_text_tiny()
    {
        // Given the text-tiny pipeline at 32x32, 2 PNDM steps
        // When bench sample runs with --json
        var (code, output, error) = InProcessCli.Run("bench", "sample", "--model", "text-tiny", "--size", "32x32", "--steps", "2", "--json", "--threads", "1");

        // Then stdout is one JSON object of the text-to-image kind
        Assert.True(code == DiffuseApp.Ok, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var doc = JsonDocument.Parse(lines[0]);
        var json = doc.RootElement;
        Assert.Equal("sample", json.GetProperty("benchmark").GetString());
        Assert.Equal("text-to-image", json.GetProperty("kind").GetString());
        Assert.Equal("random", json.GetProperty("weights").GetString());
        Assert.Equal("pndm", json.GetProperty("sampler").GetString());
        Assert.Equal(2, json.GetProperty("steps").GetInt32());
        Assert.Equal(3, json.GetProperty("unet_calls").GetInt32());
        Assert.Equal(2, json.GetProperty("unet_batch").GetInt32());
        Assert.Equal(32, json.GetProperty("width").GetInt32());
        Assert.Equal(7.5, json.GetProperty("guidance").GetDouble());
        // with the counts of the preset's networks, and no published ones for our own preset
        var expected = TextToImagePresets.TextTiny.CountParameters();
        var parameters = json.GetProperty("parameters");
        Assert.Equal(expected.Unet, parameters.GetProperty("unet").GetInt64());
        Assert.Equal(expected.TextEncoder, parameters.GetProperty("text_encoder").GetInt64());
        Assert.Equal(expected.Vae, parameters.GetProperty("vae").GetInt64());
        Assert.Equal(expected.Total, parameters.GetProperty("total").GetInt64());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("published_parameters").ValueKind);
        // every phase timed, the median between min and max, the total their sum
        var steps = json.GetProperty("unet_step_seconds");
        Assert.Equal(3, steps.GetProperty("each").GetArrayLength());
        Assert.InRange(steps.GetProperty("median").GetDouble(), steps.GetProperty("min").GetDouble(), steps.GetProperty("max").GetDouble());
        double text = json.GetProperty("text_encode_seconds").GetDouble(), denoise = json.GetProperty("denoise_seconds").GetDouble(),
            decode = json.GetProperty("vae_decode_seconds").GetDouble();
        Assert.True(text > 0 && denoise > 0 && decode > 0);
        Assert.Equal(text + denoise + decode, json.GetProperty("total_seconds_per_image").GetDouble(), 9);
        Assert.True(json.GetProperty("image_finite").GetBoolean());
        var memory = json.GetProperty("memory");
        Assert.Equal(memory.GetProperty("live_tensors_start").GetInt64(), memory.GetProperty("live_tensors_end").GetInt64());
        var peaks = json.GetProperty("peak_rss_by_phase_mib");
        if (peaks.ValueKind != JsonValueKind.Null)
        {
            double afterText = peaks.GetProperty("text_encoder").GetDouble(), afterSteps = peaks.GetProperty("denoise").GetDouble(),
                afterDecode = peaks.GetProperty("vae_decode").GetDouble();
            Assert.True(afterText > 0 && afterText <= afterSteps && afterSteps <= afterDecode);
            Assert.True(afterDecode <= memory.GetProperty("peak_rss_mib").GetDouble());
        }
        var machine = json.GetProperty("machine");
        Assert.Equal(1, machine.GetProperty("threads").GetInt32());
        Assert.False(string.IsNullOrEmpty(machine.GetProperty("cpu").GetString()));
    }

    [Fact]
    public void Should_bench_a_pipeline_folder_with_its_own_tokenizer_and_scheduler()
    {
        // Given the golden tiny Stable Diffusion folder (trained weights, a tokenizer, a DDIM scheduler)
        var folder = Path.Combine(DiffusionSharp.Tests.Support.TestPaths.Golden, "sd_chain");

        // When bench sample runs on it with a prompt
        var (code, output, error) = InProcessCli.Run("bench", "sample", "--model", folder, "--prompt", "a cat", "--steps", "2", "--json", "--threads", "1");

        // Then the report names the folder's weights, tokenizer and sampler, and counts its networks
        Assert.True(code == DiffuseApp.Ok, error);
        using var doc = JsonDocument.Parse(output.Trim());
        var json = doc.RootElement;
        Assert.Equal("trained", json.GetProperty("weights").GetString());
        Assert.Equal("tokenizer", json.GetProperty("token_ids").GetString());
        Assert.Equal("a cat", json.GetProperty("prompt").GetString());
        Assert.Equal("ddim", json.GetProperty("sampler").GetString());
        Assert.Equal(2, json.GetProperty("unet_calls").GetInt32());
        Assert.Equal(1_388_548, json.GetProperty("parameters").GetProperty("unet").GetInt64());
        var memory = json.GetProperty("memory");
        Assert.Equal(memory.GetProperty("live_tensors_start").GetInt64(), memory.GetProperty("live_tensors_end").GetInt64());
    }

    [Theory]
    [InlineData("sd15", "--size", "500x512", "--size")]      // not a multiple of 64 (VAE 8 x UNet 8): refused before 4 GB of weights are drawn
    [InlineData("sd15", "--size", "516x512", "--size")]      // a multiple of 4 but not of 8
    [InlineData("text-tiny", "--size", "60x60", "--size")]   // VAE 4 x UNet 4: multiples of 16
    [InlineData("text-tiny", "--size", "64", "--size")]
    [InlineData("text-tiny", "--batch", "2", "--batch")]
    [InlineData("text-tiny", "--guidance", "-1", "--guidance")]
    [InlineData("text-tiny", "--steps", "0", "--steps")]
    [InlineData("sd15", "--prompt", "a cat", "--prompt")]    // no tokenizer is bundled
    [InlineData("text-tiny", "--sampler", "magic", "magic")]
    public void Should_reject_a_bad_option_with_exit_2_and_one_line(string model, string option, string value, string named)
    {
        // Given a text-to-image bench with one bad value
        // When it runs
        var (code, output, error) = InProcessCli.Run("bench", "sample", "--model", model, option, value, "--json");

        // Then it exits 2 with one error line naming the option or value, and prints nothing on stdout
        Assert.Equal(DiffuseApp.BadInput, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.Equal("", output);
    }

    [Fact]
    public void Should_refuse_text_to_image_options_on_an_unconditional_model()
    {
        var (code, _, error) = InProcessCli.Run("bench", "sample", "--model", "mnist-tiny", "--size", "64x64");
        Assert.Equal(DiffuseApp.BadInput, code);
        Assert.Contains("--size", error);
    }
}
