using System.Text.Json.Nodes;
using DiffusionSharp.Cli;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Cli;

/// <summary>
/// <c>diffuse train --formulation ddpm|flow|edm</c> and its knobs: a flow run trains, records its formulation and samples
/// with its own sampler; a DDPM-family sampler is refused for it; bad values fail with exit 2, one line naming the option
/// and the accepted values, and nothing written.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class FormulationCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Should_train_a_flow_run_and_sample_it_with_its_own_sampler_refusing_ddpm_samplers()
    {
        // Given a 2-step flow-matching run of a tiny model on 32 digits, with the mode density and a shift
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 32);
        var config = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(config, TinyData.TinyUNet().ToJson());
        var run = Path.Combine(_dir, "flow");
        var (code, _, error) = InProcessCli.Run("train", "--formulation", "flow", "--sigma-density", "mode", "--shift", "2", "--data", images,
            "--labels", labels, "--model", config, "--steps", "2", "--batch", "8", "--sample-count", "4", "--sample-steps", "2", "--threads", "1", "--out", run);
        Assert.True(code == DiffuseApp.Ok, error);

        // Then its pipeline names FlowMatchEuler with the shift, and the checkpoint records the formulation
        var scheduler = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "scheduler", "scheduler_config.json")))!;
        Assert.Equal("FlowMatchEulerDiscreteScheduler", scheduler["_class_name"]!.GetValue<string>());
        Assert.Equal(2.0, scheduler["shift"]!.GetValue<double>());
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "training_state", "step-0000002", "state.json")))!;
        Assert.Equal("flow", state["options"]!["formulation"]!["kind"]!.GetValue<string>());
        Assert.Equal("mode", state["options"]!["formulation"]!["density"]!.GetValue<string>());
        Assert.Equal("flow_prediction", state["options"]!["prediction_type"]!.GetValue<string>());

        // When it is sampled without --sampler, Then its own flow-euler draws
        var (sampled, output, sampleError) = InProcessCli.Run("sample", "--model", run, "--ema", "--steps", "3", "--count", "2", "--out", Path.Combine(_dir, "f.png"));
        Assert.True(sampled == DiffuseApp.Ok, sampleError);
        Assert.Contains("flow-euler 3 steps", output);

        // And a DDPM-family sampler or a timestep spacing is refused in one line naming what fits
        AssertBadInput(InProcessCli.Run("sample", "--model", run, "--sampler", "ddim", "--out", Path.Combine(_dir, "d.png")),
            "--sampler: the ddim sampler cannot sample a model of the flow formulation (samplers for flow models: flow-euler, flow-heun)");
        AssertBadInput(InProcessCli.Run("sample", "--model", run, "--sampler", "flow-heun", "--spacing", "trailing", "--out", Path.Combine(_dir, "h.png")),
            "--spacing: the flow-heun sampler has no timestep spacing");
        Assert.False(File.Exists(Path.Combine(_dir, "d.png")));

        // And --single-shift samples it with the shift applied once (its run shifts by 2), but is refused for a DDPM sampler
        var (single, singleOutput, singleError) = InProcessCli.Run("sample", "--model", run, "--ema", "--steps", "3", "--count", "2", "--single-shift",
            "--out", Path.Combine(_dir, "s.png"));
        Assert.True(single == DiffuseApp.Ok, singleError);
        Assert.Contains("flow-euler 3 steps", singleOutput);
        var ddpmRun = Path.Combine(_dir, "ddpm");
        Assert.Equal(DiffuseApp.Ok, InProcessCli.Run("train", "--data", images, "--labels", labels, "--model", config, "--steps", "1", "--batch", "8",
            "--sample-count", "2", "--sample-steps", "1", "--threads", "1", "--out", ddpmRun).Code);
        AssertBadInput(InProcessCli.Run("sample", "--model", ddpmRun, "--sampler", "ddim", "--single-shift", "--out", Path.Combine(_dir, "x.png")),
            "--single-shift: the ddim sampler has no flow shift (samplers that have: flow-euler, flow-heun)");
        Assert.False(File.Exists(Path.Combine(_dir, "x.png")));
    }

    [Theory]
    [InlineData("--formulation what", "--formulation: unknown formulation 'what' (expected ddpm, flow, edm)")]
    [InlineData("--formulation flow --sigma-density gauss", "--sigma-density: unknown density 'gauss' (expected uniform, logit_normal or mode)")]
    [InlineData("--formulation flow --flow-weighting heavy", "--flow-weighting: unknown weighting 'heavy' (expected none, sigma_sqrt or cosmap)")]
    [InlineData("--formulation flow --shift -1", "--shift must be a positive number (got -1)")]
    [InlineData("--formulation edm --sigma-data -0.5", "--sigma-data must be a positive number (got -0.5)")]
    [InlineData("--formulation flow --logit-std 0", "--logit-std must be a positive number (got 0)")]
    [InlineData("--formulation flow --snr-gamma 5", "--snr-gamma (min-SNR weighting) applies to the ddpm formulation only, which weights by SNR (got formulation flow, whose weightings are --flow-weighting none, sigma_sqrt and cosmap)")]
    [InlineData("--formulation edm --snr-gamma 5", "--snr-gamma (min-SNR weighting) applies to the ddpm formulation only")]
    [InlineData("--shift 3", "--shift applies to the flow formulation only (got formulation ddpm)")]
    [InlineData("--formulation flow --sigma-data 1", "--sigma-data applies to the edm formulation only (got formulation flow)")]
    [InlineData("--formulation flow --sigma-density uniform --logit-mean 1", "--logit-mean applies to the logit_normal density only (got density uniform)")]
    [InlineData("--formulation flow --beta-schedule cosine", "--beta-schedule applies to the ddpm formulation only")]
    [InlineData("--formulation flow --prediction-type epsilon", "--prediction-type: the flow formulation trains flow_prediction (got epsilon)")]
    [InlineData("--formulation edm --prediction-type sample", "--prediction-type: the edm formulation trains epsilon, v_prediction (got sample)")]
    [InlineData("--p2-k 2", "--p2-k is P2's k and needs --p2-gamma")]
    [InlineData("--p2-gamma 1 --snr-gamma 5", "--snr-gamma and --p2-gamma are two loss weightings")]
    public void Should_refuse_a_bad_formulation_option_in_one_line_before_writing_anything(string options, string message)
    {
        var outDir = Path.Combine(_dir, "new-run");
        AssertBadInput(InProcessCli.Run(["train", .. options.Split(' '), "--steps", "2", "--out", outDir]), message);
        Assert.False(Directory.Exists(outDir), "nothing may be written on bad input");
    }

    private static void AssertBadInput((int Code, string Out, string Err) r, string mustContain)
    {
        Assert.Equal(DiffuseApp.BadInput, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("diffuse: error: ", lines[0]);
        Assert.Contains(mustContain, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
    }
}
