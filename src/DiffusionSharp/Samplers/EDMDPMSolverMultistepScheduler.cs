using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Multistep DPM-Solver++ (Lu et al. 2022) on EDM's path x = x_0 + σ·eps (α = 1, λ = -ln σ), compatible with diffusers'
/// <c>EDMDPMSolverMultistepScheduler</c>: same config keys and defaults, Karras or exponential sigmas, c_noise timesteps,
/// preconditioning and updates (<see cref="DpmSolverPlusPlus"/>). One model call per step; the last one or two data
/// predictions are kept between steps and cleared by <see cref="SetTimesteps"/>.
/// </summary>
/// <remarks>
/// Notation: <c>x0</c> → x_θ = D(x; σ) = c_skip·x + c_out·F, the data prediction at the current σ (diffusers'
/// <c>model_outputs[-1]</c>, returned as <see cref="SchedulerStepOutput.PredOriginalSample"/>); the rest as in
/// <see cref="DpmSolverPlusPlus"/>.
/// </remarks>
public sealed class EDMDPMSolverMultistepScheduler : EdmScheduler
{
    public const string ClassName = "EDMDPMSolverMultistepScheduler";

    private readonly OutputHistory _history;

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public EDMDPMSolverMultistepScheduler(EDMDPMSolverMultistepOptions options) : base(options.Schedule, options.PredictionType)
    {
        options.Validate();
        Options = options;
        _history = new OutputHistory(options.SolverOrder);
    }

    /// <summary>The options this scheduler was built with.</summary>
    public EDMDPMSolverMultistepOptions Options { get; }

    /// <inheritdoc />
    public override string Name => $"edm-dpmpp-{Options.SolverOrder}m" + (Options.Algorithm == DpmSolverAlgorithm.SdeDpmSolverPlusPlus ? "-sde" : "");

    private protected override bool MissingIsLast => true;

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        _history.Clear();
        StartRunOver(EdmSchedule.Sigmas(numInferenceSteps), Options.FinalSigmas == FinalSigmasType.SigmaMin ? (float)EdmSchedule.SigmaMin : 0f);
    }

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, MissingIsLast);
        int n = run.Timesteps.Length;

        // 1. lower the order near the end: the final step is first order when it lands on sigma = 0
        bool fewSteps = Options.LowerOrderFinal && n < 15;
        bool lowerOrderFinal = i == n - 1 && (Options.EulerAtFinal || fewSteps || Options.FinalSigmas == FinalSigmasType.Zero);
        bool lowerOrderSecond = i == n - 2 && fewSteps;

        // 2. the data prediction x_θ = D(x; σ_i), kept for the next steps
        var x0 = Denoised(sample, modelOutput, run.Sigmas[i]);
        _history.Add(x0);
        var noise = Options.Algorithm == DpmSolverAlgorithm.SdeDpmSolverPlusPlus ? StepNoise.Resolve(varianceNoise, generator, sample) : null;

        // 3. the multistep update, of the highest order the history allows
        var (t, s0) = (Level(run.Sigmas[i + 1]), Level(run.Sigmas[i]));
        Tensor prevSample;
        if (Options.SolverOrder == 1 || _history.Steps < 1 || lowerOrderFinal)
            prevSample = DpmSolverPlusPlus.FirstOrder(x0, sample, t, s0, noise);
        else if (Options.SolverOrder == 2 || _history.Steps < 2 || lowerOrderSecond)
            prevSample = DpmSolverPlusPlus.SecondOrder(_history[0], _history[1], sample, t, s0, Level(run.Sigmas[i - 1]), Options.SolverType, noise);
        else
            prevSample = DpmSolverPlusPlus.ThirdOrder(_history[0], _history[1], _history[2], sample, t, s0, Level(run.Sigmas[i - 1]), Level(run.Sigmas[i - 2]));

        _history.CountStep();
        run.Advance();
        return new SchedulerStepOutput(prevSample, x0.clone());
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson()
    {
        var json = EdmConfig.Write(ClassName, EdmSchedule, PredictionType);
        json["solver_order"] = Options.SolverOrder;
        json["thresholding"] = false;
        json["dynamic_thresholding_ratio"] = 0.995;
        json["sample_max_value"] = 1.0;
        json["algorithm_type"] = Options.Algorithm == DpmSolverAlgorithm.DpmSolverPlusPlus ? "dpmsolver++" : "sde-dpmsolver++";
        json["solver_type"] = Options.SolverType == DpmSolverType.Midpoint ? "midpoint" : "heun";
        json["lower_order_final"] = Options.LowerOrderFinal;
        json["euler_at_final"] = Options.EulerAtFinal;
        json["final_sigmas_type"] = Options.FinalSigmas.ToDiffusersName();
        return json;
    }

    /// <inheritdoc />
    /// <remarks>Solver order 1 and 3 of the SDE variant have the capabilities of edm-dpmpp-2m-sde, the others of edm-dpmpp-2m.</remarks>
    public override SamplerCapabilities Capabilities =>
        SamplerCatalog.Get(Options.Algorithm == DpmSolverAlgorithm.SdeDpmSolverPlusPlus ? "edm-dpmpp-2m-sde" : "edm-dpmpp-2m").Capabilities;

    private protected override IScheduler Rebuild(SamplerOverrides overrides) => new EDMDPMSolverMultistepScheduler(Options);

    /// <summary>EDM DPM-Solver++ of <paramref name="solverOrder"/> and <paramref name="algorithm"/> over the basis's EDM noise levels.</summary>
    internal static EDMDPMSolverMultistepScheduler Create(SamplerBasis basis, int solverOrder, DpmSolverAlgorithm algorithm) =>
        new(new EDMDPMSolverMultistepOptions(basis.EdmSchedule, basis.PredictionType, solverOrder, algorithm));

    /// <summary>Builds the scheduler from the keys EDMDPMSolverMultistepScheduler reads.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static EDMDPMSolverMultistepScheduler FromConfig(SchedulerConfigReader r)
    {
        var schedule = EdmConfig.Read(r);
        var predictionType = r.PredictionType(PredictionType.Epsilon);
        int order = r.Int("solver_order", 2);
        r.RequireOff("thresholding");
        r.Double("dynamic_thresholding_ratio", 0.995);
        r.Double("sample_max_value", 1.0);
        var algorithm = DpmSolverPlusPlus.ReadAlgorithm(r);
        var solverType = DpmSolverPlusPlus.ReadSolverType(r);
        return new(new EDMDPMSolverMultistepOptions(schedule, predictionType, order, algorithm, solverType,
            r.Bool("lower_order_final", true), r.Bool("euler_at_final", false), r.FinalSigmas(FinalSigmasType.Zero)));
    }

    /// <summary>EDM's noise level σ as a Gaussian path: α = 1, σ_t = σ, λ = -ln σ (+∞ at σ = 0).</summary>
    private static NoiseLevel Level(float sigma) => NoiseLevel.Of(1.0, sigma);
}
