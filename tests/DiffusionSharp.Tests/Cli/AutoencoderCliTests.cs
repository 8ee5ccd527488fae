using System.Text.Json;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse model check</c> and <c>model info</c> on autoencoder folders and presets.</summary>
public sealed class AutoencoderCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Should_pass_model_check_on_the_golden_vae_and_fail_with_a_tiny_tolerance()
    {
        var kl = Path.Combine(TestPaths.Golden, "vae_kl");
        var ok = CliRunner.Run("model", "check", "--threads", "1", "--model", kl, "--reference", Path.Combine(kl, "io.safetensors"));
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("PASS", ok.StdOut);
        Assert.Contains("intermediate encoder.mid_block", ok.StdOut);

        var tiny = Path.Combine(TestPaths.Golden, "vae_tiny");
        var strict = CliRunner.Run("model", "check", "--threads", "1", "--model", tiny, "--reference", Path.Combine(tiny, "io.safetensors"), "--tolerance", "1e-12");
        Assert.Equal(3, strict.ExitCode);
        Assert.Contains("FAIL", strict.StdOut);
    }

    [Fact]
    public void Should_report_bad_input_in_one_line_when_the_vae_config_has_an_unknown_key()
    {
        var folder = Path.Combine(_dir, "vae");
        Directory.CreateDirectory(folder);
        var golden = Path.Combine(TestPaths.Golden, "vae_tiny");
        File.Copy(Path.Combine(golden, "diffusion_pytorch_model.safetensors"), Path.Combine(folder, "diffusion_pytorch_model.safetensors"));
        File.WriteAllText(Path.Combine(folder, "config.json"),
            File.ReadAllText(Path.Combine(golden, "config.json")).Replace("\"in_channels\": 3", "\"in_channels\": 3, \"tile_size\": 64"));
        var r = CliRunner.Run("model", "check", "--threads", "1", "--model", folder, "--reference", Path.Combine(golden, "io.safetensors"));
        Assert.Equal(2, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("tile_size", lines[0]);
        Assert.Contains("config.json", lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    [Fact]
    public void Should_report_parameters_latent_shape_and_flops_for_the_rgb64_preset()
    {
        var r = CliRunner.Run("model", "info", "--threads", "1", "--model", "kl-rgb64-f4", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.StdOut);
        var root = doc.RootElement;
        Assert.Equal("AutoencoderKL", root.GetProperty("class").GetString());
        Assert.Equal(2_702_087, root.GetProperty("parameters").GetInt64());
        Assert.Equal([4, 16, 16], root.GetProperty("latent_shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(0.8046, root.GetProperty("encode_gflops_per_image").GetDouble(), 4);
        Assert.Equal(2.073, root.GetProperty("decode_gflops_per_image").GetDouble(), 3);
    }
}
