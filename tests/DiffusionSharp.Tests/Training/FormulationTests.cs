using System.Text.Json.Nodes;
using DiffusionSharp.Conditioning;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Noising;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Pipelines;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Training;

/// <summary>
/// The three formulations behind the objective seam: their mathematics (noising, targets, preconditioning, weights,
/// noise-level densities), short training runs whose loss falls, the run folder that records them, resume, save → load
/// → the same samples, and no leaks.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class FormulationTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TrainingOptions Quick(int steps, int batch) => QuickTraining.Options(steps, batch);

    /// <summary>The options of a named objective of the theories below.</summary>
    private static TrainingOptions Objective(string name, TrainingOptions options) => name switch
    {
        "ddpm-p2" => options with { Formulation = new() { P2Gamma = 1.0 } },
        "flow" => options with { Formulation = new() { Kind = FormulationKind.Flow }, PredictionType = PredictionType.FlowPrediction },
        "flow-mode-cosmap-x0" => options with
        {
            Formulation = new() { Kind = FormulationKind.Flow, Density = SigmaDensity.Mode, FlowWeighting = FlowWeighting.Cosmap, PreconditionOutputs = true },
            PredictionType = PredictionType.FlowPrediction,
        },
        "flow-uniform-shift3" => options with
        {
            Formulation = new() { Kind = FormulationKind.Flow, Density = SigmaDensity.Uniform, Shift = 3.0 },
            PredictionType = PredictionType.FlowPrediction,
        },
        "edm" => options with { Formulation = new() { Kind = FormulationKind.Edm } },
        "edm-v-sigma-data-1" => options with { Formulation = new() { Kind = FormulationKind.Edm, SigmaData = 1.0 }, PredictionType = PredictionType.VPrediction },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [InlineData("ddpm-p2")]
    [InlineData("flow")]
    [InlineData("flow-mode-cosmap-x0")]
    [InlineData("flow-uniform-shift3")]
    [InlineData("edm")]
    [InlineData("edm-v-sigma-data-1")]
    public void Should_lower_its_own_loss_on_a_fixed_batch(string name)
    {
        // Given 8 fixed 8x8 images, a tiny model, and the objective's own draws of noise levels and noise, held fixed
        var data = new Stripes(8);
        var options = Objective(name, Quick(steps: 15, batch: 8) with { LearningRate = 3e-3 });
        var schedule = new NoiseScheduleConfig();
        random.manual_seed(4);
        using var model = new UNet2DModel(TinyModels.Config(sampleSize: 8));
        using var formulation = Formulations.Create(options, schedule);
        using var g = new Generator(5);
        using var x0 = data.All();
        using var levels = formulation.DrawNoiseLevels(8, g);
        using var noise = randn(x0.shape, generator: g);
        using var xt = formulation.AddNoise(x0, noise, levels);
        using var target = formulation.Target(x0, noise, levels);
        using var none = Condition.None(8);
        double Loss()
        {
            using var _ = no_grad();
            using var prediction = formulation.Predict(model, xt, levels, none);
            using var loss = formulation.Loss(prediction, target, levels);
            return loss.item<float>();
        }
        double before = Loss();

        // When the trainer runs 15 steps of that objective
        using (var trainer = Trainer.Start(RunFolder.Create(Path.Combine(_dir, name), false), model, data, new DataSpec("stripes"), schedule, options))
        {
            Assert.Equal(options.Formulation.Kind, trainer.Formulation.Kind);
            Assert.Equal(StopReason.Finished, trainer.Train().Reason);
        }

        // Then its weighted loss at the fixed draws has gone down
        double after = Loss();
        Assert.True(after < 0.9 * before, $"{name}: loss {before} -> {after}");
    }

    [Fact]
    public void Should_noise_and_target_like_rectified_flow()
    {
        // Given x0, noise and sigmas
        using var g = new Generator(8);
        using var x0 = randn([3, 1, 2, 2], generator: g);
        using var eps = randn([3, 1, 2, 2], generator: g);
        using var sigma = tensor(new[] { 1f, 0.5f, 0.001f });
        using var s = sigma.view(3, 1, 1, 1);
        using var flow = new FlowFormulation(new FlowMatchSchedule());
        using var x0Target = new FlowFormulation(new FlowMatchSchedule(), preconditionOutputs: true);

        // Then x_σ = (1 - σ)x0 + σ·eps, the target is the velocity eps - x0 (or x0 with preconditioned outputs)
        using var xt = flow.AddNoise(x0, eps, sigma);
        AssertClose((1 - s) * x0 + s * eps, xt, 1e-6);
        AssertClose(eps - x0, flow.Target(x0, eps, sigma), 0);
        AssertClose(x0, x0Target.Target(x0, eps, sigma), 0);

        // And a network that outputs the exact velocity gives x0 back through x_σ - σ·v
        using var exact = new ConstantNetwork(eps - x0);
        AssertClose(x0, x0Target.Predict(exact, xt, sigma, Condition.None(3)), 1e-6);
        AssertClose(eps - x0, flow.Predict(exact, xt, sigma, Condition.None(3)), 0);
        Assert.Equal(new[] { 1000f, 500f, 1f }, exact.LastTimestep!);
    }

    [Fact]
    public void Should_draw_sigma_from_the_training_table_with_each_density()
    {
        // Given 20,000 draws of each density (the training sigmas are (T - i)/T, shifted)
        using var g = new Generator(9);
        static double[] Draw(FlowFormulation f, Generator g)
        {
            using (f)
            using (var sigma = f.DrawNoiseLevels(20_000, g))
                return sigma.data<float>().ToArray().Select(v => (double)v).ToArray();
        }
        var logitNormal = Draw(new FlowFormulation(new FlowMatchSchedule(), SigmaDensity.LogitNormal, logitMean: 0.5, logitStd: 0.8), g);
        var uniform = Draw(new FlowFormulation(new FlowMatchSchedule(), SigmaDensity.Uniform), g);
        var shifted = Draw(new FlowFormulation(new FlowMatchSchedule(Shift: 3.0), SigmaDensity.Uniform), g);
        var table = new FlowMatchSchedule(Shift: 3.0).TrainingSigmas().ToHashSet();

        // Then σ ≈ 1 - u, as diffusers' scripts index the table: logit(σ) ~ N(-m, s²) for logit_normal(m, s); uniform σ has
        // mean 1/2; and every shifted draw is one of the shifted training sigmas, whose mean is above 1/2
        var logits = logitNormal.Select(v => Math.Log(v / (1 - v))).ToArray();
        double mean = logits.Average(), std = Math.Sqrt(logits.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -0.5 - 0.03, -0.5 + 0.03);
        Assert.InRange(std, 0.8 - 0.03, 0.8 + 0.03);
        Assert.InRange(uniform.Average(), 0.49, 0.51);
        Assert.All(shifted, v => Assert.Contains((float)v, table));
        Assert.InRange(shifted.Average(), 0.6, 0.8);
        Assert.All(uniform, v => Assert.InRange(v, 0.001, 1.0));
    }

    [Fact]
    public void Should_weight_like_diffusers_sd3_scripts_and_p2()
    {
        // Given sigmas and SNRs
        using var sigma = tensor(new[] { 0.1f, 0.5f, 0.9f });
        using var snr = tensor(new[] { 0.01f, 1f, 100f });
        static double[] Values(Tensor t) => t.data<float>().ToArray().Select(v => (double)v).ToArray();
        double[] s = [0.1, 0.5, 0.9], r = [0.01, 1, 100];

        // Then the flow weights are σ^-2 and 2/(π(1 - 2σ + 2σ²)), SD3's mode density is 1 - u - c(cos²(πu/2) - 1 + u),
        // and P2 is (k + SNR)^-γ on the epsilon loss, times SNR for x0 targets and SNR/(SNR + 1) for v targets
        using (var w = FlowFormulation.Weight(sigma, FlowWeighting.SigmaSqrt)) AssertClose(s.Select(x => 1 / (x * x)), Values(w));
        using (var w = FlowFormulation.Weight(sigma, FlowWeighting.Cosmap)) AssertClose(s.Select(x => 2 / (Math.PI * (1 - 2 * x + 2 * x * x))), Values(w));
        using (var w = FlowFormulation.Weight(sigma, FlowWeighting.None)) AssertClose([1, 1, 1], Values(w));
        using (var m = FlowFormulation.ModeDensity(sigma, 1.29))
            AssertClose(s.Select(u => 1 - u - 1.29 * (Math.Pow(Math.Cos(Math.PI * u / 2), 2) - 1 + u)), Values(m));
        using (var w = P2Weighting.Weight(snr, 1.0, 1.0, PredictionType.Epsilon)) AssertClose(r.Select(x => 1 / (1 + x)), Values(w));
        using (var w = P2Weighting.Weight(snr, 0.5, 2.0, PredictionType.Sample)) AssertClose(r.Select(x => x / Math.Sqrt(2 + x)), Values(w));
        using (var w = P2Weighting.Weight(snr, 1.0, 1.0, PredictionType.VPrediction)) AssertClose(r.Select(x => x / (x + 1) / (1 + x)), Values(w));
    }

    [Fact]
    public void Should_precondition_edm_so_that_input_and_target_have_unit_variance_and_the_weight_undoes_c_out()
    {
        foreach (double sigmaData in new[] { 0.5, 1.0 })
            foreach (double sigma in new[] { 0.002, 0.1, 0.5, 1, 10, 80 })
            {
                double cIn = EdmPreconditioning.CIn(sigma, sigmaData), cSkip = EdmPreconditioning.CSkip(sigma, sigmaData);
                double cOut = EdmPreconditioning.COut(sigma, sigmaData, PredictionType.Epsilon);

                // c_in·x has unit variance for x = x0 + σ·eps, Var(x0) = σ_data² (Karras et al. 2022, eq. 114)
                Assert.Equal(1.0, cIn * cIn * (sigma * sigma + sigmaData * sigmaData), 12);
                // the network's target (x0 - c_skip·x)/c_out has unit variance (eq. 117), and c_skip minimises c_out (eq. 131)
                double targetVariance = ((1 - cSkip) * (1 - cSkip) * sigmaData * sigmaData + cSkip * cSkip * sigma * sigma) / (cOut * cOut);
                Assert.Equal(1.0, targetVariance, 10);
                Assert.Equal(sigmaData * sigmaData / (sigma * sigma + sigmaData * sigmaData), cSkip, 12);
                // λ(σ) = 1/c_out²: the effective weight on F is one (eq. 144), and c_out flips sign for v_prediction
                Assert.Equal(1.0, EdmPreconditioning.LossWeight(sigma, sigmaData) * cOut * cOut, 10);
                Assert.Equal(-cOut, EdmPreconditioning.COut(sigma, sigmaData, PredictionType.VPrediction));
                Assert.Equal(Math.Log(sigma) / 4, EdmPreconditioning.CNoise(sigma), 12);
            }
    }

    [Fact]
    public void Should_reproduce_x0_from_a_perfect_edm_denoiser_and_precondition_like_the_samplers()
    {
        // Given x0, noise, sigmas and a network whose F is the exact (x0 - c_skip·x)/c_out for its input c_in·x
        using var g = new Generator(10);
        using var x0 = randn([3, 1, 2, 2], generator: g);
        using var eps = randn([3, 1, 2, 2], generator: g);
        using var sigma = tensor(new[] { 0.01f, 1f, 50f });
        using var edm = new EdmFormulation(-1.2, 1.2, new EdmSchedule(SigmaData: 0.5));
        using var xt = edm.AddNoise(x0, eps, sigma);
        using var perfect = new PerfectEdmNetwork(x0, 0.5);

        // When the formulation preconditions it, Then D = x0, and the network saw c_in·x at timestep ln(σ)/4
        using var denoised = edm.Predict(perfect, xt, sigma, Condition.None(3));
        AssertClose(x0, denoised, 1e-4);
        Assert.Equal(sigma.data<float>().ToArray().Select(v => MathF.Log(v) / 4), perfect.LastTimestep!, new FloatNear(1e-6f));
        AssertClose(x0 + sigma.view(3, 1, 1, 1) * eps, xt, 1e-6);

        // And the per-item tensor preconditioning agrees with the samplers' scalar one
        for (int i = 0; i < 3; i++)
        {
            float s = sigma[i].item<float>();
            using var one = EdmPreconditioning.Denoised(xt[i..(i + 1)], perfect.LastOutput![i..(i + 1)], s, 0.5, PredictionType.Epsilon);
            AssertClose(denoised[i..(i + 1)], one, 1e-5);
        }
    }

    [Fact]
    public void Should_draw_edm_sigmas_log_normally()
    {
        using var edm = new EdmFormulation(-1.2, 1.2, new EdmSchedule());
        using var g = new Generator(11);
        using var sigma = edm.DrawNoiseLevels(20_000, g);
        var logs = sigma.data<float>().ToArray().Select(v => Math.Log(v)).ToArray();
        double mean = logs.Average(), std = Math.Sqrt(logs.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -1.2 - 0.03, -1.2 + 0.03);
        Assert.InRange(std, 1.2 - 0.03, 1.2 + 0.03);
    }

    [Theory]
    [InlineData(FormulationKind.Flow, "FlowMatchEulerDiscreteScheduler", "flow-euler")]
    [InlineData(FormulationKind.Edm, "EDMDPMSolverMultistepScheduler", "edm-dpmpp-2m")]
    public void Should_record_the_formulation_resume_it_and_load_back_to_the_same_samples(FormulationKind kind, string schedulerClass, string sampler)
    {
        // Given a 3-step run of the formulation with non-default knobs on 32 digits, checkpointed at step 2
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 32);
        var spec = new DataSpec(images, Labels: labels);
        var formulation = kind == FormulationKind.Flow
            ? new FormulationOptions { Kind = kind, Density = SigmaDensity.Mode, ModeScale = 0.8, Shift = 2.0 }
            : new FormulationOptions { Kind = kind, SigmaData = 0.7, PMean = -1.0 };
        var options = Quick(steps: 2, batch: 8) with
        {
            Formulation = formulation, PredictionType = formulation.DefaultPredictionType, CheckpointEvery = 2, LearningRate = 1e-3,
        };
        var run = RunFolder.Create(Path.Combine(_dir, kind.ToName()), overwrite: false);
        random.manual_seed(6);
        using (var trainer = Trainer.Start(run, new UNet2DModel(TinyData.TinyUNet()), spec.Open(28), spec, new NoiseScheduleConfig(), options))
            trainer.Train();

        // Then the checkpoint's state.json and the pipeline's scheduler record the formulation with its defaults filled in
        var state = TrainingCheckpoint.ReadState(run.LatestCheckpoint()!);
        Assert.Equal(formulation.WithDefaults(), state.Options.Formulation);
        Assert.Contains($"\"kind\": \"{kind.ToName()}\"", File.ReadAllText(Path.Combine(run.LatestCheckpoint()!, "state.json")));
        var config = JsonNode.Parse(File.ReadAllText(run.SchedulerConfigPath))!;
        Assert.Equal(schedulerClass, config["_class_name"]!.GetValue<string>());
        if (kind == FormulationKind.Flow) Assert.Equal(2.0, config["shift"]!.GetValue<double>());
        else Assert.Equal(0.7, config["sigma_data"]!.GetValue<double>());

        // When it is resumed to step 3, Then it trains the same objective on
        using (var resumed = Trainer.Resume(run, steps: 3))
        {
            Assert.Equal(kind, resumed.Formulation.Kind);
            Assert.Equal(formulation.WithDefaults(), resumed.Options.Formulation);
            Assert.Equal(StopReason.Finished, resumed.Train().Reason);

            // And the folder loads back (plain UNet2DModel, the formulation's own sampler) and draws exactly the samples the
            // in-memory EMA network draws with the same sampler and seed
            using var memory = DiffusionPipeline.FromModel(resumed.EmaModel, SchedulerFactory.FromConfigJson(resumed.Formulation.PipelineScheduler().ConfigJson));
            resumed.EmaModel.Module.eval();
            using var expected = memory.Generate(4, 5, seed: 3, classLabels: null);
            using var loaded = DiffusionPipeline.Load(run.Root, useEma: true);
            Assert.Equal(sampler, loaded.Scheduler.Name);
            Assert.IsType<UNet2DModel>(loaded.Denoiser);
            using var actual = loaded.Generate(4, 5, seed: 3, classLabels: null);
            Assert.Equal(expected.data<float>().ToArray(), actual.data<float>().ToArray());
            Assert.True(actual.isfinite().all().item<bool>());
        }
        Assert.Equal([1, 2, 3], LossLog.Read(run.LossCsvPath).Select(r => r.Step).ToArray());

        // And a sampler of another formulation is refused by name
        var e = Assert.Throws<InvalidInputException>(() => DiffusionPipeline.Load(run.Root, samplerName: "ddim"));
        Assert.Contains($"cannot sample a model of the {kind.ToName()} formulation", e.Message);
    }

    [Theory]
    [InlineData(FormulationKind.Flow)]
    [InlineData(FormulationKind.Edm)]
    public void Should_leave_no_tensor_behind_from_one_step_to_the_next(FormulationKind kind)
    {
        // Given a class-conditional U-Net trained with the formulation, micro-batches and label dropping
        var (images, labels) = TinyData.WriteMnistSubset(_dir, 32);
        var spec = new DataSpec(images, Labels: labels);
        random.manual_seed(0);
        using var model = new UNet2DModel(TinyData.TinyUNet(numClassEmbeds: 11));
        var run = RunFolder.Create(Path.Combine(_dir, "leak-" + kind.ToName()), overwrite: false);
        var options = Quick(6, 8) with
        {
            MicroBatchSize = 4, CondDrop = 0.5, Formulation = new() { Kind = kind },
            PredictionType = new FormulationOptions { Kind = kind }.DefaultPredictionType,
        };
        using var trainer = Trainer.Start(run, model, spec.Open(28), spec, new NoiseScheduleConfig(), options);
        var live = new List<long>();
        trainer.StepHook = (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);

        // When it trains for 6 steps, Then after the first step (AdamW's moments) the live tensor count does not change
        trainer.Train();
        Assert.Equal(6, live.Count);
        Assert.All(live.Skip(1), n => Assert.Equal(live[1], n));
    }

    [Theory]
    [InlineData(FormulationKind.Flow, "P2Gamma", "TrainingOptions.PredictionType")]
    [InlineData(FormulationKind.Ddpm, "Shift", "FormulationOptions.Shift")]
    [InlineData(FormulationKind.Ddpm, "SigmaData", "FormulationOptions.SigmaData")]
    [InlineData(FormulationKind.Flow, "SnrGamma", "TrainingOptions.SnrGamma")]
    [InlineData(FormulationKind.Flow, "LogitStd0", "FormulationOptions.LogitStd")]
    [InlineData(FormulationKind.Flow, "ModeScaleWithLogitNormal", "FormulationOptions.ModeScale")]
    [InlineData(FormulationKind.Edm, "NegativeSigmaData", "FormulationOptions.SigmaData")]
    [InlineData(FormulationKind.Edm, "Sample", "TrainingOptions.PredictionType")]
    [InlineData(FormulationKind.Ddpm, "P2KWithoutGamma", "FormulationOptions.P2K")]
    [InlineData(FormulationKind.Ddpm, "P2AndMinSnr", "TrainingOptions.SnrGamma")]
    public void Should_refuse_a_knob_of_another_formulation_or_out_of_range_naming_its_property(FormulationKind kind, string bad, string property)
    {
        var f = new FormulationOptions { Kind = kind };
        var o = new TrainingOptions { Formulation = f, PredictionType = f.DefaultPredictionType };
        o = bad switch
        {
            "P2Gamma" => o with { PredictionType = PredictionType.Epsilon },
            "Shift" => o with { Formulation = f with { Shift = 2 } },
            "SigmaData" => o with { Formulation = f with { SigmaData = 1 } },
            "SnrGamma" => o with { SnrGamma = 5 },
            "LogitStd0" => o with { Formulation = f with { LogitStd = 0 } },
            "ModeScaleWithLogitNormal" => o with { Formulation = f with { ModeScale = 1 } },
            "NegativeSigmaData" => o with { Formulation = f with { SigmaData = -0.5 } },
            "Sample" => o with { PredictionType = PredictionType.Sample },
            "P2KWithoutGamma" => o with { Formulation = f with { P2K = 2 } },
            "P2AndMinSnr" => o with { SnrGamma = 5, Formulation = f with { P2Gamma = 1 } },
            _ => throw new ArgumentOutOfRangeException(nameof(bad)),
        };
        var e = Assert.Throws<InvalidInputException>(o.Validate);
        Assert.Equal(property, e.Property);
        Assert.StartsWith(InvalidInputException.MemberOf(property), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= tolerance, $"max difference {diff} exceeds {tolerance}");
    }

    private static void AssertClose(IEnumerable<double> expected, double[] actual)
    {
        var e = expected.ToArray();
        Assert.Equal(e.Length, actual.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - actual[i]) <= 1e-5 * Math.Max(1, Math.Abs(e[i])), $"[{i}]: expected {e[i]}, got {actual[i]}");
    }

    private sealed class FloatNear(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }

    /// <summary>A network that returns a fixed tensor whatever its input, and remembers the timesteps it was given.</summary>
    private sealed class ConstantNetwork(Tensor output) : StubNetwork
    {
        protected override Tensor Output(Tensor sample, Tensor timestep) => output.clone();
    }

    /// <summary>EDM's perfect network: F = (x0 - c_skip·x)/c_out with x = input/c_in and σ = exp(4·timestep).</summary>
    private sealed class PerfectEdmNetwork(Tensor x0, double sigmaData) : StubNetwork
    {
        public Tensor? LastOutput { get; private set; }

        protected override Tensor Output(Tensor sample, Tensor timestep)
        {
            var sigma = (timestep * 4).exp().view(-1, 1, 1, 1);
            var x = sample * (sigma.square() + sigmaData * sigmaData).sqrt();
            var cSkip = sigmaData * sigmaData / (sigma.square() + sigmaData * sigmaData);
            var cOut = sigma * sigmaData / (sigma.square() + sigmaData * sigmaData).sqrt();
            LastOutput = (x0 - cSkip * x) / cOut;
            return LastOutput.clone();
        }
    }

    /// <summary>An <see cref="IDenoiser"/> without weights for the formulations' closed forms.</summary>
    private abstract class StubNetwork : IDenoiser
    {
        private readonly UNet2DModel _shape = new(TinyModels.Config(sampleSize: 2));

        public float[]? LastTimestep { get; private set; }
        public IDenoiserConfig Config => _shape.Config;
        public nn.Module Module => _shape;
        public Device Device => CPU;

        public Tensor Forward(Tensor sample, Tensor timestep, Condition condition)
        {
            LastTimestep = timestep.to_type(ScalarType.Float32).data<float>().ToArray();
            return Output(sample, timestep);
        }

        protected abstract Tensor Output(Tensor sample, Tensor timestep);
        public long FlopsPerSample(IReadOnlyList<int> sampleShape) => 0;
        public void SavePretrained(string folder) => throw new NotSupportedException();
        public IDenoiser CreateEmpty(Device? device = null) => throw new NotSupportedException();
        public void Dispose() => _shape.Dispose();
    }
}
