using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Euler's method on EDM's probability-flow ODE dx/dσ = (x - D(x; σ))/σ (Karras et al. 2022, algorithm 1 without the
/// Heun correction), compatible with diffusers' <c>EDMEulerScheduler</c>: same config keys and defaults, Karras or
/// exponential sigmas, c_noise timesteps and step. One model call per step; deterministic.
/// </summary>
/// <remarks>
/// Notation (variable → paper): <c>sigma</c> → σ_i; <c>predOriginal</c> → D(x_i; σ_i) = c_skip·x_i + c_out·F;
/// <c>derivative</c> → d_i = (x_i - D)/σ_i; <c>dt</c> → σ_{i+1} - σ_i.
/// </remarks>
public sealed class EDMEulerScheduler : EdmScheduler
{
    public const string ClassName = "EDMEulerScheduler";

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public EDMEulerScheduler(EDMEulerOptions options) : base(options.Schedule, options.PredictionType)
    {
        Options = options;
    }

    /// <summary>The options this scheduler was built with.</summary>
    public EDMEulerOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "edm-euler";

    private protected override bool MissingIsLast => false;

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps) => StartRunOver(EdmSchedule.Sigmas(numInferenceSteps), 0f);

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, MissingIsLast);
        float sigma = run.Sigmas[i];

        // 1. the denoised estimate D(x; σ) from the network's F
        var predOriginal = Denoised(sample, modelOutput, sigma);

        // 2. the ODE's slope and one Euler step to σ_{i+1}
        using var difference = sample - predOriginal;
        using var derivative = difference / sigma;
        using var change = derivative * (run.Sigmas[i + 1] - sigma);
        var prevSample = sample + change;
        run.Advance();
        return new SchedulerStepOutput(prevSample, predOriginal);
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson() => EdmConfig.Write(ClassName, EdmSchedule, PredictionType);

    private protected override IScheduler Rebuild(SamplerOverrides overrides) => new EDMEulerScheduler(Options);

    /// <summary>EDM Euler over the basis's EDM noise levels and prediction type.</summary>
    internal static EDMEulerScheduler Create(SamplerBasis basis) => new(new EDMEulerOptions(basis.EdmSchedule, basis.PredictionType));

    /// <summary>Builds the scheduler from the keys EDMEulerScheduler reads.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static EDMEulerScheduler FromConfig(SchedulerConfigReader r) =>
        new(new EDMEulerOptions(EdmConfig.Read(r), r.PredictionType(PredictionType.Epsilon)));
}
