using DiffusionSharp.Tests.Support;
using Xunit;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse model check</c> on the golden CLIP text encoder and tokenizer folders: exit 0 / 3 / 2.</summary>
public sealed class ClipModelCheckCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Should_PassAndFail_When_CheckingGoldenTextEncoder()
    {
        var folder = Path.Combine(TestPaths.Golden, "clip_text");
        var reference = Path.Combine(folder, "io.safetensors");
        var ok = CliRunner.Run("model", "check", "--model", folder, "--reference", reference, "--threads", "1");
        Assert.True(ok.ExitCode == 0, ok.StdOut + ok.StdErr);
        Assert.Contains("PASS", ok.StdOut);
        Assert.Contains("pooler_output", ok.StdOut);
        var strict = CliRunner.Run("model", "check", "--model", folder, "--reference", reference, "--tolerance", "1e-12", "--threads", "1");
        Assert.Equal(3, strict.ExitCode);
        Assert.Contains("FAIL", strict.StdOut);
    }

    [Fact]
    public void Should_ExitBadInput_When_TextEncoderReferenceIsAUNetReference()
    {
        var folder = Path.Combine(TestPaths.Golden, "clip_text");
        var r = CliRunner.Run("model", "check", "--model", folder, "--reference", Path.Combine(TestPaths.Golden, "unet", "io.safetensors"), "--threads", "1");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("input_ids", r.StdErr);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    [Fact]
    public void Should_PassAndFail_When_CheckingGoldenTokenizer()
    {
        var folder = Path.Combine(TestPaths.Golden, "clip_tokenizer");
        var ok = CliRunner.Run("model", "check", "--model", folder, "--reference", Path.Combine(folder, "tokens.json"));
        Assert.True(ok.ExitCode == 0, ok.StdOut + ok.StdErr);
        Assert.Contains("all 64 strings", ok.StdOut);

        var edited = Path.Combine(_dir, "tokens.json");
        File.WriteAllText(edited, """{"entries": [{"text": "a photo of a cat", "ids": [320, 1125, 539, 320, 2368]}, {"text": "hello", "ids": [1, 2]}]}""");
        var bad = CliRunner.Run("model", "check", "--model", folder, "--reference", edited);
        Assert.Equal(3, bad.ExitCode);
        Assert.Contains("1 of 2 strings", bad.StdOut);
        Assert.Contains("entries[1]", bad.StdOut);
    }

    [Fact]
    public void Should_ExitBadInput_When_TokenizerFolderIsBroken()
    {
        var golden = Path.Combine(TestPaths.Golden, "clip_tokenizer");
        foreach (var f in new[] { "vocab.json", "tokenizer_config.json" }) File.Copy(Path.Combine(golden, f), Path.Combine(_dir, f));
        File.WriteAllText(Path.Combine(_dir, "merges.txt"), "#version: 0.2\ni n\nbroken line here\n");
        var r = CliRunner.Run("model", "check", "--model", _dir, "--reference", Path.Combine(golden, "tokens.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("merges.txt:3:", r.StdErr);
        Assert.DoesNotContain("   at ", r.StdErr);
    }
}
