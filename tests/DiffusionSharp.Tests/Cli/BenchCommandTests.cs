using System.Text.Json;
using DiffusionSharp.Cli;

namespace DiffusionSharp.Tests.Cli;

/// <summary>
/// <c>diffuse bench</c>: bad options fail with exit 2 and one line; <c>--json</c> prints exactly one JSON object with the
/// documented fields. Runs are cut to a fraction of a second and never assert speed.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class BenchCommandTests
{
    // A given ceiling skips the 3-second conv measurement.
    private static readonly string[] Quick = ["--seconds", "0.01", "--windows", "2", "--warmup-steps", "0", "--ceiling", "10", "--json"];

    [Theory]
    [InlineData("train", "--threads", "0", "--threads")]
    [InlineData("train", "--batch", "0", "--batch")]
    [InlineData("train", "--seconds", "0", "--seconds")]
    [InlineData("train", "--seconds", "-2", "--seconds")]
    [InlineData("train", "--windows", "0", "--windows")]
    [InlineData("train", "--model", "mnist-huge", "mnist-huge")]
    [InlineData("sample", "--model", "no/such/folder", "no/such/folder")]
    [InlineData("sample", "--steps", "0", "--steps")]
    [InlineData("sample", "--sampler", "magic", "magic")]
    [InlineData("forward", "--batch", "0", "--batch")]
    [InlineData("train", "--attention", "flash", "--attention")]
    [InlineData("forward", "--ceiling", "0", "--ceiling")]
    [InlineData("conv", "--seconds", "0", "--seconds")]
    [InlineData("conv", "--size", "0", "--size")]
    public void Should_reject_a_bad_option_with_exit_2_and_one_line(string command, string option, string value, string named)
    {
        // Given a bench command with one bad value
        // When it runs
        string[] ceiling = command == "conv" || option == "--ceiling" ? [] : ["--ceiling", "10"];
        var (code, output, error) = InProcessCli.Run(["bench", command, option, value, .. ceiling]);

        // Then it exits 2 with one error line naming the option or value, and prints nothing on stdout
        Assert.Equal(DiffuseApp.BadInput, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.Equal("", output);
    }

    [Fact]
    public void Should_print_one_json_object_for_conv()
    {
        // Given a tiny convolution
        // When bench conv runs with --json
        var (code, output, _) = InProcessCli.Run(["bench", "conv", "--batch", "1", "--channels", "4", "--filters", "4", "--size", "8", .. Quick[..^3], "--json"]);

        // Then stdout is one JSON object with the ceiling and the windows
        Assert.Equal(DiffuseApp.Ok, code);
        var json = SingleJsonObject(output);
        Assert.Equal("conv", json.GetProperty("benchmark").GetString());
        Assert.Equal([1, 4, 8, 8], json.GetProperty("input").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(2 * 4 * 4 * 9 * 64 / 1e9, json.GetProperty("gflops_per_call").GetDouble(), 12);
        Assert.True(json.GetProperty("gflops_per_second").GetDouble() > 0);
        CheckTiming(json, "call", 2);
        CheckMachine(json);
    }

    [Fact]
    public void Should_print_one_json_object_for_train_with_memory_and_profile()
    {
        // Given the tiny preset at batch 4, a leak check and a one-step profile
        // When bench train runs with --json
        var (code, output, error) = InProcessCli.Run(["bench", "train", "--model", "mnist-tiny", "--batch", "4", "--profile", "1", "--max-rss-growth", "10000", .. Quick]);

        // Then stdout is one JSON object with throughput, efficiency, memory, the profile, and a flat tensor count
        Assert.True(code == DiffuseApp.Ok, error);
        var json = SingleJsonObject(output);
        Assert.Equal("train", json.GetProperty("benchmark").GetString());
        Assert.Equal("mnist", json.GetProperty("data").GetString());
        Assert.Equal(4, json.GetProperty("batch").GetInt32());
        foreach (var field in new[] { "images_per_second", "ms_per_step", "gflops_per_image", "achieved_gflops_per_second", "efficiency" })
            Assert.True(json.GetProperty(field).GetDouble() > 0, field);
        Assert.Equal("given", json.GetProperty("ceiling").GetProperty("source").GetString());
        Assert.Equal(0, json.GetProperty("ceiling").GetProperty("probes").GetArrayLength());
        Assert.Equal("auto", json.GetProperty("attention").GetString());
        var memory = json.GetProperty("memory");
        Assert.True(memory.GetProperty("peak_rss_mib").GetDouble() > 0);
        Assert.Equal(memory.GetProperty("live_tensors_start").GetInt64(), memory.GetProperty("live_tensors_end").GetInt64());
        Assert.Equal(2, memory.GetProperty("rss_after_windows_mib").GetArrayLength());
        Assert.Equal(JsonValueKind.Number, memory.GetProperty("settled_rss_growth_mib").ValueKind);
        Assert.True(json.GetProperty("leak_check").GetProperty("passed").GetBoolean());
        Assert.Equal(["data", "noise", "forward", "backward", "clip", "optimizer", "ema"],
            json.GetProperty("profile").EnumerateArray().Select(p => p.GetProperty("phase").GetString()));
        CheckTiming(json, "step", 2);
        CheckMachine(json);
    }

    [Fact]
    public void Should_report_the_step_overhead_of_the_trainer_as_a_fraction_of_a_step()
    {
        // Given the main job's model at batch 2 in micro-batches of 1: the bare step runs the batch whole, so the real step's
        // overhead includes a second forward and backward and is clearly above 0 even on a busy machine
        // When bench train runs with --json
        var (code, output, error) = InProcessCli.Run(["bench", "train", "--model", "mnist-nano", "--batch", "2", "--micro-batch", "1",
            "--threads", "1", "--seconds", "1", "--windows", "5", "--warmup-steps", "1", "--ceiling", "10", "--json"]);

        // Then the report carries the overhead: real and bare step times and a fraction in [0, 1), over 5 pairs of blocks
        Assert.True(code == DiffuseApp.Ok, error);
        var overhead = SingleJsonObject(output).GetProperty("step_overhead");
        double fraction = overhead.GetProperty("fraction").GetDouble();
        Assert.True(fraction is >= 0 and < 1, $"fraction {fraction}");
        Assert.True(overhead.GetProperty("bare_ms_per_step").GetDouble() > 0);
        Assert.True(overhead.GetProperty("real_ms_per_step").GetDouble() > 0);
        Assert.Equal(5, overhead.GetProperty("blocks").GetInt32());
        Assert.True(overhead.GetProperty("steps_per_block").GetInt32() >= 1);
    }

    [Fact]
    public void Should_run_and_report_libtorchs_attention_when_asked()
    {
        // Given mnist-tiny (8-channel heads) and --attention sdpa
        // When bench train runs with --json
        var (code, output, error) = InProcessCli.Run(["bench", "train", "--model", "mnist-tiny", "--batch", "2", "--attention", "sdpa", .. Quick]);

        // Then it trains and says which attention it ran
        Assert.True(code == DiffuseApp.Ok, error);
        Assert.Equal("sdpa", SingleJsonObject(output).GetProperty("attention").GetString());
    }

    [Fact]
    public void Should_print_one_json_object_for_sample()
    {
        // Given a two-step DDIM run of one image
        // When bench sample runs with --json
        var (code, output, error) = InProcessCli.Run(["bench", "sample", "--model", "mnist-tiny", "--steps", "2", "--batch", "1", .. Quick]);

        // Then every step made one network call and the tensor count is back where it started
        Assert.True(code == DiffuseApp.Ok, error);
        var json = SingleJsonObject(output);
        Assert.Equal("sample", json.GetProperty("benchmark").GetString());
        Assert.Equal("random", json.GetProperty("weights").GetString());
        Assert.Equal("ddim", json.GetProperty("sampler").GetString());
        var timing = CheckTiming(json, "sampler step", 2);
        int timedSteps = timing.GetProperty("windows").EnumerateArray().Sum(w => w.GetProperty("units").GetInt32());
        Assert.Equal(timedSteps, json.GetProperty("network_calls").GetInt32());
        Assert.True(json.GetProperty("images_per_second").GetDouble() > 0);
        Assert.True(json.GetProperty("seconds_per_network_call").GetDouble() > 0);
        var memory = json.GetProperty("memory");
        Assert.Equal(memory.GetProperty("live_tensors_start").GetInt64(), memory.GetProperty("live_tensors_end").GetInt64());
    }

    [Fact]
    public void Should_report_the_step_overhead_of_the_sampling_loop_as_a_fraction_of_a_step()
    {
        // Given the main job's model sampling one image in 4 DDIM steps
        // When bench sample runs with --json
        var (code, output, error) = InProcessCli.Run(["bench", "sample", "--model", "mnist-nano", "--steps", "4", "--batch", "1",
            "--threads", "1", "--seconds", "1", "--windows", "5", "--warmup-steps", "1", "--ceiling", "10", "--json"]);

        // Then the report carries the loop's step against the bare network call: both times, a fraction below 1 and not far
        // below 0 (the bare call is part of the step), over 5 pairs of blocks, and the tensors are back where they started
        Assert.True(code == DiffuseApp.Ok, error);
        var json = SingleJsonObject(output);
        var overhead = json.GetProperty("step_overhead");
        double fraction = overhead.GetProperty("fraction").GetDouble();
        Assert.True(fraction is > -0.5 and < 1, $"fraction {fraction}");
        double real = overhead.GetProperty("real_ms_per_step").GetDouble(), bare = overhead.GetProperty("bare_ms_per_step").GetDouble();
        Assert.True(real > 0 && bare > 0, $"real {real} ms, bare {bare} ms");
        Assert.Equal(5, overhead.GetProperty("blocks").GetInt32());
        Assert.True(overhead.GetProperty("steps_per_block").GetInt32() >= 1);
        var memory = json.GetProperty("memory");
        Assert.Equal(memory.GetProperty("live_tensors_start").GetInt64(), memory.GetProperty("live_tensors_end").GetInt64());
    }

    [Fact]
    public void Should_print_one_json_object_for_forward()
    {
        // Given the tiny preset at batch 2
        // When bench forward runs with --json
        var (code, output, error) = InProcessCli.Run(["bench", "forward", "--model", "mnist-tiny", "--batch", "2", .. Quick]);

        // Then it reports milliseconds per forward pass
        Assert.True(code == DiffuseApp.Ok, error);
        var json = SingleJsonObject(output);
        Assert.Equal("forward", json.GetProperty("benchmark").GetString());
        Assert.Equal(2, json.GetProperty("batch").GetInt32());
        Assert.True(json.GetProperty("ms_per_forward").GetDouble() > 0);
        CheckTiming(json, "forward pass", 2);
    }

    private static JsonElement SingleJsonObject(string stdout)
    {
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var doc = JsonDocument.Parse(lines[0]);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        return doc.RootElement.Clone();
    }

    private static JsonElement CheckTiming(JsonElement json, string unit, int windows)
    {
        var timing = json.GetProperty("timing");
        Assert.Equal(unit, timing.GetProperty("unit").GetString());
        Assert.Equal(windows, timing.GetProperty("windows").GetArrayLength());
        foreach (var w in timing.GetProperty("windows").EnumerateArray())
        {
            Assert.True(w.GetProperty("units").GetInt32() >= 1);
            Assert.True(w.GetProperty("seconds").GetDouble() > 0);
        }
        double median = timing.GetProperty("median_seconds_per_unit").GetDouble();
        Assert.InRange(median, timing.GetProperty("min_seconds_per_unit").GetDouble(), timing.GetProperty("max_seconds_per_unit").GetDouble());
        return timing;
    }

    private static void CheckMachine(JsonElement json)
    {
        var machine = json.GetProperty("machine");
        Assert.True(machine.GetProperty("cores").GetInt32() >= 1);
        Assert.True(machine.GetProperty("threads").GetInt32() >= 1);
        Assert.False(string.IsNullOrEmpty(machine.GetProperty("libtorch").GetString()));
        Assert.False(string.IsNullOrEmpty(machine.GetProperty("torchsharp").GetString()));
    }
}
