using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse model check</c> on a UNet2DConditionModel folder and a reference carrying encoder_hidden_states.</summary>
public sealed class ModelCheckConditionCliTests
{
    private static string Folder => Path.Combine(TestPaths.Golden, "unet2d_condition");

    [Fact]
    public void Should_Exit0Then3Then2_When_CheckingTheGoldenConditionUNet()
    {
        // Given the golden UNet2DConditionModel and its reference
        var reference = Path.Combine(Folder, "io.safetensors");

        // Then it passes at the default tolerance (with per-module rows), fails at 1e-12
        var ok = CliRunner.Run("model", "check", "--model", Folder, "--reference", reference, "--threads", "1");
        Assert.True(ok.ExitCode == 0, ok.StdErr + ok.StdOut);
        Assert.Contains("PASS", ok.StdOut);
        Assert.Contains("intermediate mid_block", ok.StdOut);
        var strict = CliRunner.Run("model", "check", "--model", Folder, "--reference", reference, "--tolerance", "1e-12", "--threads", "1");
        Assert.Equal(3, strict.ExitCode);
        Assert.Contains("FAIL", strict.StdOut);

        // And a reference without encoder_hidden_states (the unconditional UNet's) is bad input naming the file and the tensor
        var unconditional = Path.Combine(TestPaths.Golden, "unet", "io.safetensors");
        var bad = CliRunner.Run("model", "check", "--model", Folder, "--reference", unconditional, "--threads", "1");
        Assert.Equal(2, bad.ExitCode);
        var lines = bad.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("unet/io.safetensors", lines[0].Replace('\\', '/'));
        Assert.Contains("encoder_hidden_states", lines[0]);
        Assert.DoesNotContain("   at ", bad.StdErr);
    }
}
