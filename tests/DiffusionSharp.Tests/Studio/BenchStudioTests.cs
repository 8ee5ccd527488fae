using System.Text.Json;
using DiffusionSharp.Cli;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Cli;
using DiffusionSharp.Tests.Pipelines;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Studio;

/// <summary>
/// <c>diffuse bench studio</c>: one JSON object with the client-side timings of a cold and warm generations, the
/// studio's live tensors unchanged between them; bad options in one line. Tiny model, 3 steps; never asserts speed.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class BenchStudioTests : IDisposable
{
    private readonly string _root = TestPaths.NewTempDir();
    private readonly string _model;

    public BenchStudioTests()
    {
        _model = Path.Combine(_root, "tiny-cond");
        random.manual_seed(1);
        using var network = new UNet2DModel(TinyModels.Config(numClassEmbeds: 3));
        network.SavePretrained(_model);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Should_print_the_time_to_the_first_step_image_and_per_step_as_one_json_object()
    {
        // Given a tiny class-conditional model
        // When bench studio generates 2 images in 3 DDIM steps, once cold and twice warm
        var (code, output, error) = InProcessCli.Run(["bench", "studio", "--model", _model, "--sampler", "ddim", "--steps", "3", "--count", "2",
            "--class", "1", "--guidance", "2", "--runs", "2", "--threads", "1", "--json"]);

        // Then stdout is one JSON object: every run's first step before its end, two step intervals per run, live tensors unchanged
        Assert.True(code == DiffuseApp.Ok, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        var json = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("studio", json.GetProperty("benchmark").GetString());
        Assert.Equal("ddim", json.GetProperty("sampler").GetString());
        var first = json.GetProperty("first_run");
        Assert.InRange(first.GetProperty("first_step_ms").GetDouble(), double.Epsilon, first.GetProperty("done_ms").GetDouble());
        var done = json.GetProperty("done_ms").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(2, done.Length);
        Assert.InRange(json.GetProperty("first_step_ms").GetDouble(), double.Epsilon, done.Max());
        Assert.InRange(json.GetProperty("step_ms").GetDouble(), double.Epsilon, json.GetProperty("max_step_ms").GetDouble());
        var tensors = json.GetProperty("live_tensors");
        Assert.True(tensors.GetProperty("passed").GetBoolean());
        Assert.Equal(tensors.GetProperty("live_tensors_after_first").GetInt64(), tensors.GetProperty("live_tensors_after_last").GetInt64());
    }

    [Theory]
    [InlineData("--runs", "0", "--runs")]
    [InlineData("--steps", "0", "--steps")]
    [InlineData("--count", "65", "--count")]
    [InlineData("--model", "no/such/folder", "--model: no/such/folder")]
    public void Should_refuse_a_bad_option_with_exit_2_and_one_line_naming_it(string option, string value, string named)
    {
        // Given bench studio with one bad value
        string[] args = option == "--model" ? ["bench", "studio", option, value] : ["bench", "studio", "--model", _model, option, value];

        // When it runs
        var (code, _, error) = InProcessCli.Run(args);

        // Then it exits 2 with one error line naming the option
        Assert.Equal(DiffuseApp.BadInput, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(named, line);
    }
}
