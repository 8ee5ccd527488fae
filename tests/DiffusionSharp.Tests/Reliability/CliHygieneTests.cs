using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>Every command validates its options before doing any work; --verbose adds the stack trace; nothing is written outside --out.</summary>
[Collection(ChildProcessCollection.Name)]
public sealed class CliHygieneTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("train --device cuda --steps 2 --out OUT", "--device: cuda is not available")]
    [InlineData("sample --device tpu --model OUT --out OUT/s.png", "--device must be cpu or cuda")]
    [InlineData("train --steps 0 --out OUT", "--steps")]
    [InlineData("train --batch 0 --out OUT", "--batch")]
    [InlineData("train --keep 0 --out OUT", "--keep")]
    [InlineData("train --lr -1 --out OUT", "--lr")]
    [InlineData("train --lr-schedule wavy --out OUT", "--lr-schedule")]
    [InlineData("train --steps 5", "--out")]
    [InlineData("sample --model OUT --count 0 --out OUT/s.png", "--count")]
    [InlineData("sample --model OUT --steps 0 --out OUT/s.png", "--steps")]
    [InlineData("schedule --timesteps 0", "--timesteps")]
    [InlineData("schedule --timesteps 2000000 --plot OUT/p.png", "--timesteps")]
    public void Should_Exit2QuicklyWritingNothing_When_AnOptionIsOutOfRange(string command, string option)
    {
        // With TorchSharp's CUDA backend and a GPU, cuda is a valid device.
        if (command.Contains("--device cuda", StringComparison.Ordinal) && TorchSharp.torch.cuda.is_available()) return;
        var outDir = Path.Combine(_dir, "out");
        var args = command.Replace("OUT", outDir, StringComparison.Ordinal).Split(' ');
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, stdout, stderr) = DiffuseProcess.Run(_dir, Timeout, args);

        Assert.True(code == 2, $"exit code {code}; stderr: {stderr}");
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("diffuse: error:", error, StringComparison.Ordinal);
        Assert.Contains(option, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(outDir), "wrote into --out");
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed} to refuse");
    }

    [Fact]
    public void Should_AddStackTrace_When_Verbose()
    {
        var (code, _, stderr) = DiffuseProcess.Run(_dir, Timeout, "schedule", "--timesteps", "0", "--verbose");
        Assert.Equal(2, code);
        Assert.StartsWith("diffuse: error:", stderr, StringComparison.Ordinal);
        Assert.Contains("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_WriteOnlyInsideOut_When_TrainingAndSampling()
    {
        var work = Path.Combine(_dir, "work");
        Directory.CreateDirectory(work);
        var config = TinyRun.WriteConfig(_dir);
        var run = Path.Combine(_dir, "run");
        var (code, stdout, stderr) = DiffuseProcess.Run(work, Timeout, TinyRun.NewRun(config, run, 2));
        Assert.True(code == 0, stderr + stdout);
        var png = Path.Combine(_dir, "samples", "s.png");
        (code, stdout, stderr) = DiffuseProcess.Run(work, Timeout, "sample", "--model", run, "--count", "2", "--steps", "2", "--out", png, "--threads", "1");
        Assert.True(code == 0, stderr + stdout);

        Assert.Empty(Directory.EnumerateFileSystemEntries(work));
        Assert.Equal(["run", "samples", "tiny-config.json", "work"], Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName).Order());
        Assert.Equal([png], Directory.GetFiles(Path.Combine(_dir, "samples")));
    }
}
