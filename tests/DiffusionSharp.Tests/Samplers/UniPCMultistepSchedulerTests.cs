using System.Text.Json.Nodes;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>
/// UniPC's step arithmetic against identities and hand-computed updates, its timesteps against DPM-Solver++'s, and its
/// diffusers config. (diffusers' golden trajectories have no UniPC run; its order is checked in <see cref="SamplerConvergenceTests"/>.)
/// </summary>
public sealed class UniPCMultistepSchedulerTests
{
    private static readonly NoiseScheduleConfig Linear = new();

    [Theory]
    [InlineData(true, UniPCSolverType.Bh2, PredictionType.Epsilon)]
    [InlineData(true, UniPCSolverType.Bh1, PredictionType.VPrediction)]
    [InlineData(false, UniPCSolverType.Bh2, PredictionType.Epsilon)]
    [InlineData(false, UniPCSolverType.Bh1, PredictionType.Sample)]
    public void Should_take_the_first_order_dpm_solver_step_which_is_ddim_on_its_first_step(bool predictX0, UniPCSolverType type, PredictionType prediction)
    {
        // Given UniPC (no history, so no corrector and a first-order predictor), DPM-Solver++(2M) and deterministic DDIM
        // with linspace spacing, which all step from 999 to 899 with 10 steps
        var unipc = new UniPCMultistepScheduler(new UniPCMultistepOptions(Linear, prediction, PredictX0: predictX0, SolverType: type));
        var dpm = new DPMSolverMultistepScheduler(new DPMSolverMultistepOptions(Linear, prediction));
        var ddim = new DDIMScheduler(Linear, new DDIMSchedulerOptions
        {
            PredictionType = prediction, Clipping = SampleClipping.None, TimestepSpacing = TimestepSpacing.Linspace,
        });
        foreach (var s in new IScheduler[] { unipc, dpm, ddim }) s.SetTimesteps(10);
        Assert.Equal(899.0, unipc.Timesteps[1]);
        using var g = new torch.Generator(5);
        var sample = randn([2, 1, 4, 4], generator: g);
        var modelOutput = randn([2, 1, 4, 4], generator: g);

        // When each takes its first step from the same sample and model output
        var fromUnipc = unipc.Step(modelOutput, 999, sample).PrevSample;
        var fromDpm = dpm.Step(modelOutput, 999, sample).PrevSample;
        var fromDdim = ddim.Step(modelOutput, 999, sample).PrevSample;

        // Then the three agree: the first-order exponential integrator is DDIM in either parameterisation (Lu et al. 2022b, eq. 5)
        AssertClose(fromDpm, fromUnipc, 2e-5);
        AssertClose(fromDdim, fromUnipc, 2e-5);
    }

    [Theory]
    [InlineData(UniPCSolverType.Bh1)]
    [InlineData(UniPCSolverType.Bh2)]
    public void Should_apply_the_unic_formula_at_order_one(UniPCSolverType type)
    {
        // Given UniPC of order 1 on a tiny tensor, so the second step corrects the first with UniC-1 (rho = 1/2)
        var unipc = new UniPCMultistepScheduler(new UniPCMultistepOptions(Linear, SolverOrder: 1, SolverType: type));
        unipc.SetTimesteps(10);
        using var g = new torch.Generator(6);
        var x = randn([1, 1, 2, 2], generator: g);
        var eps0 = randn([1, 1, 2, 2], generator: g);
        var eps1 = randn([1, 1, 2, 2], generator: g);

        // When it takes two steps
        var x1 = unipc.Step(eps0, unipc.Timesteps[0], x).PrevSample;
        var x2 = unipc.Step(eps1, unipc.Timesteps[1], x1).PrevSample;

        // Then the second result is the first-order predictor from the corrected x1, computed here by hand in float64:
        // m = (x - σ_t·ε)/α_t, x1c = (σ_1/σ_0)·x - α_1·(e^-h - 1)·m0 - α_1·B(h)·(m1 - m0)/2, B(h) = -h or e^-h - 1
        var (a0, s0, l0) = Vp(unipc.Sigmas[0]);
        var (a1, s1, l1) = Vp(unipc.Sigmas[1]);
        var (a2, s2, l2) = Vp(unipc.Sigmas[2]);
        double h1 = l1 - l0, h2 = l2 - l1;
        double bH = type == UniPCSolverType.Bh1 ? -h1 : Math.Exp(-h1) - 1;
        var xd = x.to_type(ScalarType.Float64);
        var m0 = (xd - s0 * eps0.to_type(ScalarType.Float64)) / a0;
        var m1 = (x1.to_type(ScalarType.Float64) - s1 * eps1.to_type(ScalarType.Float64)) / a1;
        var corrected = s1 / s0 * xd - a1 * (Math.Exp(-h1) - 1) * m0 - a1 * bH * 0.5 * (m1 - m0);
        var expected = s2 / s1 * corrected - a2 * (Math.Exp(-h2) - 1) * m1;
        AssertClose(expected.to_type(ScalarType.Float32), x2, 1e-5);
    }

    [Theory]
    [InlineData(true, UniPCSolverType.Bh2)]
    [InlineData(true, UniPCSolverType.Bh1)]
    [InlineData(false, UniPCSolverType.Bh2)]
    [InlineData(false, UniPCSolverType.Bh1)]
    public void Should_correct_the_first_step_by_the_unic_term_and_nothing_else(bool predictX0, UniPCSolverType type)
    {
        // Given UniPC-2 with the corrector and without it after step 6, and the exact noise predictor of Gaussian data
        // x_0 ~ N(1.5, 0.5²), ε*(x_t) = (x_t - sqrt(ᾱ)·mu)·sqrt(1 - ᾱ)/(ᾱ·s² + 1 - ᾱ) with ᾱ = 1/(1 + σ²)
        var options = new UniPCMultistepOptions(Linear, PredictX0: predictX0, SolverType: type);
        var corrected = new UniPCMultistepScheduler(options);
        var predictorOnly = new UniPCMultistepScheduler(options with { DisableCorrector = [6] });
        using var g = new torch.Generator(9);
        var x = randn([2, 1, 4, 4], generator: g);
        Tensor Exact(Tensor xt, float sigma)
        {
            double alphaBar = 1 / (1 + (double)sigma * sigma);
            return (xt - Math.Sqrt(alphaBar) * 1.5) * (Math.Sqrt(1 - alphaBar) / (alphaBar * 0.25 + 1 - alphaBar));
        }

        // When both take the same two steps from timestep index 6 of 10, where the data prediction moves most
        const int b = 6;
        (Tensor X1, Tensor Eps0, Tensor Eps1, Tensor X2) TwoSteps(UniPCMultistepScheduler unipc)
        {
            unipc.SetTimesteps(10);
            unipc.SetBeginIndex(b);
            var eps0 = Exact(x, unipc.Sigmas[b]);
            var x1 = unipc.Step(eps0, unipc.Timesteps[b], x).PrevSample;
            var eps1 = Exact(x1, unipc.Sigmas[b + 1]);
            return (x1, eps0, eps1, unipc.Step(eps1, unipc.Timesteps[b + 1], x1).PrevSample);
        }
        var (x1, eps0, eps1, x2) = TwoSteps(corrected);
        var (x1Plain, _, _, x2Plain) = TwoSteps(predictorOnly);

        // Then the first step (nothing to correct yet) agrees, and step 1 differs by the UniC-1 term alone, carried through the
        // UniP-2 step, which is linear in its start: x_2 - x_2' = c·(x_1^c - x_1), x_1^c - x_1 = -o_1·B(h_1)·(m_1 - m_0)/2 (rho = 1/2),
        // with m the data prediction and o = α, c = σ_2/σ_1 (predict_x0), or m = ε and o = σ, c = α_2/α_1; computed in float64
        Assert.Equal(x1.data<float>().ToArray(), x1Plain.data<float>().ToArray());
        var (a0, s0, l0) = Vp(corrected.Sigmas[b]);
        var (a1, s1, l1) = Vp(corrected.Sigmas[b + 1]);
        var (a2, s2, _) = Vp(corrected.Sigmas[b + 2]);
        double hh = predictX0 ? -(l1 - l0) : l1 - l0;
        double bH = type == UniPCSolverType.Bh1 ? hh : Math.Exp(hh) - 1;
        var m0 = predictX0 ? (x.to_type(ScalarType.Float64) - s0 * eps0.to_type(ScalarType.Float64)) / a0 : eps0.to_type(ScalarType.Float64);
        var m1 = predictX0 ? (x1.to_type(ScalarType.Float64) - s1 * eps1.to_type(ScalarType.Float64)) / a1 : eps1.to_type(ScalarType.Float64);
        var correction = -(predictX0 ? a1 : s1) * bH * 0.5 * (m1 - m0);
        var expected = (predictX0 ? s2 / s1 : a2 / a1) * correction;
        Assert.True(expected.abs().max().item<double>() > 1e-2, "the correction is too small to tell");
        AssertClose(expected.to_type(ScalarType.Float32), x2 - x2Plain, 1e-5);
    }

    [Fact]
    public void Should_be_dpm_solver_plus_plus_2m_without_the_corrector()
    {
        // Given UniPC-2 bh2 with every corrector disabled, and DPM-Solver++(2M)
        var unipc = new UniPCMultistepScheduler(new UniPCMultistepOptions(Linear, DisableCorrector: Enumerable.Range(0, 10).ToArray()));
        var dpm = new DPMSolverMultistepScheduler(new DPMSolverMultistepOptions(Linear));

        // When both run a 10-step loop with the toy model
        var fromUnipc = Loop(unipc, 10);
        var fromDpm = Loop(dpm, 10);

        // Then UniP-2 with B(h) = e^-h - 1 and rho = 1/2 is the DPM-Solver++(2M) update (and both lower the last step's order)
        AssertClose(fromDpm, fromUnipc, 2e-5);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void Should_land_on_the_data_prediction_at_sigma_zero(bool predictX0, bool lowerOrderFinal)
    {
        // Given UniPC whose last step lands on sigma = 0, integrating the data or the noise prediction, without the last
        // correction (with the noise prediction the corrected sample would enter the result)
        var unipc = new UniPCMultistepScheduler(new UniPCMultistepOptions(Linear, PredictX0: predictX0, LowerOrderFinal: lowerOrderFinal,
            DisableCorrector: [3]));
        unipc.SetTimesteps(5);
        using var g = new torch.Generator(8);
        var sample = randn([2, 1, 4, 4], generator: g);
        for (int i = 0; i < 4; i++)
            sample = unipc.Step(GoldenTrajectory.ToyModel(sample, unipc.Timesteps[i]), unipc.Timesteps[i], sample).PrevSample;

        // When it takes the last step
        double t = unipc.Timesteps[4];
        var eps = GoldenTrajectory.ToyModel(sample, t);
        var last = unipc.Step(eps, t, sample);

        // Then the result is the data prediction of the sample, finite in every variant: first order onto sigma = 0, and
        // the limit σ_t·(e^h - 1) → α_t·σ_s/α_s for the noise prediction
        var (alpha, sigma, _) = Vp(unipc.Sigmas[4]);
        AssertClose((sample - eps * sigma) / alpha, last.PrevSample, 2e-5);
        AssertClose(last.PredOriginalSample!, last.PrevSample, 2e-5);
    }

    [Theory]
    [InlineData(TimestepSpacing.Linspace, false, FinalSigmasType.Zero, 10)]
    [InlineData(TimestepSpacing.Leading, false, FinalSigmasType.SigmaMin, 7)]
    [InlineData(TimestepSpacing.Trailing, false, FinalSigmasType.Zero, 25)]
    [InlineData(TimestepSpacing.Linspace, true, FinalSigmasType.Zero, 10)]
    [InlineData(TimestepSpacing.Trailing, true, FinalSigmasType.SigmaMin, 30)]
    public void Should_use_the_timesteps_and_sigmas_of_dpm_solver(TimestepSpacing spacing, bool karras, FinalSigmasType finalSigmas, int steps)
    {
        // Given UniPC and DPM-Solver++ with the same spacing, Karras setting, final sigma and steps offset
        var schedule = new NoiseScheduleConfig(BetaStart: 0.00085, BetaEnd: 0.012, Schedule: BetaSchedule.ScaledLinear);
        var unipc = new UniPCMultistepScheduler(new UniPCMultistepOptions(schedule, UseKarrasSigmas: karras, TimestepSpacing: spacing,
            StepsOffset: 1, FinalSigmas: finalSigmas));
        var dpm = new DPMSolverMultistepScheduler(new DPMSolverMultistepOptions(schedule, UseKarrasSigmas: karras, FinalSigmas: finalSigmas,
            TimestepSpacing: spacing, StepsOffset: 1));

        // When both set their timesteps
        unipc.SetTimesteps(steps);
        dpm.SetTimesteps(steps);

        // Then they are the same (diffusers builds both the same way), and the initial noise is unit
        Assert.Equal(dpm.Timesteps, unipc.Timesteps);
        Assert.Equal(dpm.Sigmas, unipc.Sigmas);
        Assert.Equal(1.0, unipc.InitNoiseSigma);
    }

    [Fact]
    public void Should_read_diffusers_defaults_and_write_its_keys()
    {
        // Given a config with only the class name
        var scheduler = SchedulerFactory.FromConfigJson("""{"_class_name": "UniPCMultistepScheduler", "_diffusers_version": "0.30.3"}""");

        // Then it has diffusers' defaults, and writes the keys of diffusers 0.30.3's UniPCMultistepScheduler
        var unipc = Assert.IsType<UniPCMultistepScheduler>(scheduler);
        Assert.Equal("unipc", unipc.Name);
        Assert.Equal(2, unipc.Options.SolverOrder);
        Assert.True(unipc.Options.PredictX0);
        Assert.Equal(UniPCSolverType.Bh2, unipc.Options.SolverType);
        Assert.True(unipc.Options.LowerOrderFinal);
        Assert.Empty(unipc.Options.DisableCorrector!);
        Assert.False(unipc.Options.UseKarrasSigmas);
        Assert.Equal(TimestepSpacing.Linspace, unipc.Options.TimestepSpacing);
        Assert.Equal(FinalSigmasType.Zero, unipc.Options.FinalSigmas);
        Assert.Equal(new NoiseScheduleConfig(), unipc.Schedule.Config);
        string[] keys =
        [
            "_class_name", "_diffusers_version", "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order",
            "prediction_type", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "predict_x0", "solver_type",
            "lower_order_final", "disable_corrector", "solver_p", "use_karras_sigmas", "timestep_spacing", "steps_offset",
            "final_sigmas_type", "rescale_betas_zero_snr",
        ];
        Assert.Equal(keys, unipc.ToConfigJson().Select(p => p.Key));
    }

    [Fact]
    public void Should_round_trip_non_default_options()
    {
        // Given UniPC with every option changed
        var options = new UniPCMultistepOptions(new NoiseScheduleConfig(Schedule: BetaSchedule.SquaredCosCapV2, RescaleBetasZeroSnr: true),
            PredictionType.VPrediction, SolverOrder: 3, PredictX0: false, SolverType: UniPCSolverType.Bh1, LowerOrderFinal: false,
            DisableCorrector: [0, 2], UseKarrasSigmas: true, TimestepSpacing: TimestepSpacing.Leading, StepsOffset: 1,
            FinalSigmas: FinalSigmasType.SigmaMin);
        var original = new UniPCMultistepScheduler(options);

        // When its config text is read back through the factory
        string text = SchedulerFactory.ToConfigText(original);
        var copy = Assert.IsType<UniPCMultistepScheduler>(SchedulerFactory.FromConfigJson(text));

        // Then the options and the text are the same
        Assert.Equal(options with { DisableCorrector = null }, copy.Options with { DisableCorrector = null });
        Assert.Equal(new[] { 0, 2 }, copy.Options.DisableCorrector!);
        Assert.Equal(text, SchedulerFactory.ToConfigText(copy));
    }

    [Theory]
    [InlineData("midpoint")]
    [InlineData("heun")]
    [InlineData("logrho")]
    public void Should_read_dpm_solver_and_deis_solver_types_as_bh2(string solverType)
    {
        var json = new UniPCMultistepScheduler(new UniPCMultistepOptions()).ToConfigJson();
        json["solver_type"] = solverType;

        Assert.Equal(UniPCSolverType.Bh2, Assert.IsType<UniPCMultistepScheduler>(SchedulerFactory.FromConfig(json)).Options.SolverType);
    }

    [Fact]
    public void Should_switch_to_unipc_keeping_the_training_schedule()
    {
        // Given the config of a v-prediction DDPM training run on a scaled-linear schedule
        var ddpm = new DDPMScheduler(new NoiseScheduleConfig(BetaStart: 0.00085, BetaEnd: 0.012, Schedule: BetaSchedule.ScaledLinear),
            new DDPMSchedulerOptions { PredictionType = PredictionType.VPrediction });

        // When we ask for unipc by name
        var unipc = SchedulerFactory.WithSampler(ddpm, "unipc");

        // Then it is UniPC over the same schedule and prediction type
        Assert.IsType<UniPCMultistepScheduler>(unipc);
        Assert.Equal(PredictionType.VPrediction, unipc.PredictionType);
        Assert.Equal(ddpm.Schedule!.AlphasCumprod.ToArray(), unipc.Schedule!.AlphasCumprod.ToArray());
        Assert.Equal("UniPCMultistepScheduler", SamplerCatalog.Get("unipc").ClassName);
    }

    [Theory]
    [InlineData("thresholding", "true")]
    [InlineData("solver_p", "{}")]
    [InlineData("solver_type", "\"bh3\"")]
    [InlineData("solver_order", "0")]
    [InlineData("final_sigmas_type", "\"denoise_to_zero\"")]
    [InlineData("disable_corrector", "\"1\"")]
    [InlineData("disable_corrector", "[1.5]")]
    [InlineData("predict_x0", "1")]
    [InlineData("use_exponential_sigmas", "true")]
    [InlineData("prediction_type", "\"flow_prediction\"")]
    [InlineData("use_magic", "true")]
    public void Should_reject_unsupported_options_naming_the_file_and_key(string key, string value)
    {
        var json = new UniPCMultistepScheduler(new UniPCMultistepOptions()).ToConfigJson();
        json[key] = JsonNode.Parse(value);

        var e = Assert.Throws<InvalidInputException>(() => SchedulerFactory.FromConfig(new SchedulerConfigReader(json, "model/scheduler_config.json")));

        Assert.StartsWith("model/scheduler_config.json", e.Message);
        Assert.Contains(key, e.Message);
    }

    private static (double Alpha, double Sigma, double Lambda) Vp(float sigma)
    {
        double alpha = 1 / Math.Sqrt((double)sigma * sigma + 1), vpSigma = sigma * alpha;
        return (alpha, vpSigma, Math.Log(alpha / vpSigma));
    }

    private static Tensor Loop(IScheduler scheduler, int steps)
    {
        scheduler.SetTimesteps(steps);
        using var g = new torch.Generator(10);
        var sample = randn([2, 1, 4, 4], generator: g);
        foreach (var t in scheduler.Timesteps)
            sample = scheduler.Step(GoldenTrajectory.ToyModel(sample, t), t, sample).PrevSample;
        return sample;
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        double diff = (expected - actual).abs().max().item<float>();
        double scale = Math.Max(1, expected.abs().max().item<float>());
        Assert.True(diff <= tolerance * scale, $"max |difference| {diff} > {tolerance * scale}");
    }
}
