using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// DPM-Solver++ multistep (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
/// Models", algorithms 2 and 3), compatible with diffusers' <c>DPMSolverMultistepScheduler</c>: same config keys and
/// defaults, timesteps, sigmas and step arithmetic. One model call per step; the previous one or two data
/// predictions are kept between steps and cleared by <see cref="SetTimesteps"/>.
/// </summary>
/// <remarks>
/// Notation (variable → paper):
/// <list type="bullet">
/// <item><c>sigma</c> → σ = sqrt((1 - ᾱ)/ᾱ), the VE noise level of the table (Karras et al. 2022)</item>
/// <item><c>alphaT</c>, <c>sigmaT</c> → α_t = 1/sqrt(σ² + 1) and σ_t = σ·α_t, so x_t = α_t·x_0 + σ_t·ε</item>
/// <item><c>lambda</c> → λ_t = log(α_t/σ_t), half the log-SNR; <c>h</c> → h = λ_t - λ_s, the step in λ</item>
/// <item><c>m0</c>, <c>m1</c>, <c>m2</c> → x_θ at the current and the one and two earlier timesteps (data predictions)</item>
/// <item><c>d0</c>, <c>d1</c>, <c>d2</c> → D_0, D_1, D_2, the divided differences of x_θ in λ (scaled by h)</item>
/// <item><c>r0</c>, <c>r1</c> → r = h_{i-1}/h_i, the ratios of consecutive steps</item>
/// </list>
/// </remarks>
public sealed class DPMSolverMultistepScheduler : ExponentialIntegratorScheduler
{
    public const string ClassName = "DPMSolverMultistepScheduler";

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public DPMSolverMultistepScheduler(DPMSolverMultistepOptions options)
        : base(options, options.SolverOrder)
    {
        Options = options;
    }

    /// <summary>The options this scheduler was built with.</summary>
    public DPMSolverMultistepOptions Options { get; }

    /// <inheritdoc />
    public override string Name => $"dpmpp-{Options.SolverOrder}m" + (Options.Algorithm == DpmSolverAlgorithm.SdeDpmSolverPlusPlus ? "-sde" : "");

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        // the last usable timestep: those with λ below lambda_min_clipped are cut off the top (cosine schedule)
        int t = Schedule.NumTrainTimesteps;
        int clipped = 0;
        for (int i = 0; i < t; i++)
        {
            float alpha = MathF.Sqrt(AlphasCumprod[i]), sigma = MathF.Sqrt(1f - AlphasCumprod[i]);
            if (MathF.Log(alpha) - MathF.Log(sigma) < Options.LambdaMinClipped) clipped++;
        }
        StartRun(Options.TimestepSpacing, t - clipped, numInferenceSteps, Options.StepsOffset, Options.UseKarrasSigmas, Options.FinalSigmas);
    }

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, missingIsLast: true);
        int n = run.Timesteps.Length;

        // 1. lower the order near the end: the final step is first order when it lands on sigma = 0
        bool fewSteps = Options.LowerOrderFinal && n < 15;
        bool lowerOrderFinal = i == n - 1 && (Options.EulerAtFinal || fewSteps || Options.FinalSigmas == FinalSigmasType.Zero);
        bool lowerOrderSecond = i == n - 2 && fewSteps;

        // 2. the data prediction x_θ(x_t, t) from the model output, kept for the next steps
        var x0 = DataPrediction(PredictionType, modelOutput, sample, run.Sigmas[i]);
        Remember(x0);

        Tensor? noise = null;
        if (Options.Algorithm == DpmSolverAlgorithm.SdeDpmSolverPlusPlus)
        {
            noise = StepNoise.Resolve(varianceNoise, generator, sample);
        }

        // 3. the multistep update, of the highest order the history allows
        Tensor prevSample;
        var (t, s0) = (Level(run.Sigmas[i + 1]), Level(run.Sigmas[i]));
        if (Options.SolverOrder == 1 || LowerOrderNums < 1 || lowerOrderFinal)
            prevSample = DpmSolverPlusPlus.FirstOrder(x0, sample, t, s0, noise);
        else if (Options.SolverOrder == 2 || LowerOrderNums < 2 || lowerOrderSecond)
            prevSample = DpmSolverPlusPlus.SecondOrder(Remembered(0), Remembered(1), sample, t, s0, Level(run.Sigmas[i - 1]), Options.SolverType, noise);
        else
            prevSample = DpmSolverPlusPlus.ThirdOrder(Remembered(0), Remembered(1), Remembered(2), sample, t, s0,
                Level(run.Sigmas[i - 1]), Level(run.Sigmas[i - 2]));

        EndStep();
        return new SchedulerStepOutput(prevSample, x0.clone());
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson()
    {
        var json = BeginConfig(ClassName, Options.Schedule, Options.SolverOrder);
        json["algorithm_type"] = Options.Algorithm == DpmSolverAlgorithm.DpmSolverPlusPlus ? "dpmsolver++" : "sde-dpmsolver++";
        json["solver_type"] = Options.SolverType == DpmSolverType.Midpoint ? "midpoint" : "heun";
        json["lower_order_final"] = Options.LowerOrderFinal;
        json["euler_at_final"] = Options.EulerAtFinal;
        json["use_karras_sigmas"] = Options.UseKarrasSigmas;
        json["use_lu_lambdas"] = false;
        json["final_sigmas_type"] = Options.FinalSigmas.ToDiffusersName();
        json["lambda_min_clipped"] = double.IsNegativeInfinity(Options.LambdaMinClipped) ? "-Infinity" : Options.LambdaMinClipped;
        json["variance_type"] = null;
        json["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        json["steps_offset"] = Options.StepsOffset;
        json["rescale_betas_zero_snr"] = Options.Schedule.RescaleBetasZeroSnr;
        return json;
    }

    /// <inheritdoc />
    /// <remarks>Solver order 1 and 3 have the capabilities of 2M (or 2M SDE).</remarks>
    public override SamplerCapabilities Capabilities =>
        SamplerCatalog.Get(Options.Algorithm == DpmSolverAlgorithm.SdeDpmSolverPlusPlus ? "dpmpp-2m-sde" : "dpmpp-2m").Capabilities;

    private protected override IScheduler Rebuild(SamplerOverrides overrides) => new DPMSolverMultistepScheduler(Options with
    {
        UseKarrasSigmas = overrides.KarrasSigmasOr(Options.UseKarrasSigmas), TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing),
    });

    /// <summary>DPM-Solver++ of <paramref name="solverOrder"/> and <paramref name="algorithm"/> over the basis (spacing default linspace).</summary>
    internal static DPMSolverMultistepScheduler Create(SamplerBasis basis, int solverOrder, DpmSolverAlgorithm algorithm) => new(
        new DPMSolverMultistepOptions(basis.Schedule, basis.PredictionType, solverOrder, algorithm,
            UseKarrasSigmas: basis.KarrasSigmas,
            TimestepSpacing: basis.TimestepSpacing ?? TimestepSpacing.Linspace,
            StepsOffset: basis.StepsOffset));

    /// <summary>Builds the scheduler from the keys DPMSolverMultistepScheduler reads, with diffusers' defaults for missing ones.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static DPMSolverMultistepScheduler FromConfig(SchedulerConfigReader r)
    {
        var schedule = r.NoiseSchedule();
        var algorithm = DpmSolverPlusPlus.ReadAlgorithm(r);
        var solverType = DpmSolverPlusPlus.ReadSolverType(r);
        var finalSigmas = r.FinalSigmas(FinalSigmasType.Zero);
        var options = new DPMSolverMultistepOptions(
            schedule,
            r.PredictionType(PredictionType.Epsilon),
            r.Int("solver_order", 2),
            algorithm,
            solverType,
            r.Bool("lower_order_final", true),
            r.Bool("euler_at_final", false),
            r.Bool("use_karras_sigmas", false),
            finalSigmas,
            r.Double("lambda_min_clipped", double.NegativeInfinity),
            r.TimestepSpacing(TimestepSpacing.Linspace),
            r.StepsOffset());
        RequireThresholdingOff(r);
        r.RequireOff("use_lu_lambdas");
        r.RequireOff("variance_type", "null");
        r.RequireNewerKeysOff();
        return new DPMSolverMultistepScheduler(options);
    }

    /// <summary>The step's noise level: α_t, σ_t and λ_t of a VE noise level σ of the table.</summary>
    private static NoiseLevel Level(float sigma)
    {
        var (alphaT, sigmaT, lambda) = Coefficients(sigma);
        return new NoiseLevel(alphaT, sigmaT, lambda);
    }
}
