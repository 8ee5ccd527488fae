using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Euler's method on the flow-matching ODE dx/dσ = v(x, σ) from σ = 1 (pure noise) to σ = 0, compatible with
/// diffusers' <c>FlowMatchEulerDiscreteScheduler</c> (SD3, Flux): same config keys and defaults, sigmas (the shift
/// applied twice, as 0.30.3 does, unless <see cref="FlowMatchEulerDiscreteOptions.SingleShift"/>), timesteps σ·T and step.
/// One model call per step; deterministic.
/// </summary>
/// <remarks>Notation (variable → paper): <c>sigma</c>, <c>sigmaNext</c> → σ_i, σ_{i+1}; the model output → v_θ(x_{σ_i}, σ_i); x_{σ_{i+1}} = x_{σ_i} + (σ_{i+1} - σ_i)·v.</remarks>
public sealed class FlowMatchEulerDiscreteScheduler : FlowMatchScheduler
{
    public const string ClassName = "FlowMatchEulerDiscreteScheduler";

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public FlowMatchEulerDiscreteScheduler(FlowMatchEulerDiscreteOptions options) : base(Checked(options).Schedule)
    {
        Options = options;
    }

    /// <summary>The options this scheduler was built with.</summary>
    public FlowMatchEulerDiscreteOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "flow-euler";

    /// <inheritdoc />
    /// <exception cref="InvalidInputException">Fewer than one step, or dynamic shifting without <see cref="FlowMatchEulerDiscreteOptions.Mu"/>.</exception>
    public override void SetTimesteps(int numInferenceSteps)
    {
        if (FlowSchedule.UseDynamicShifting && Options.Mu is null)
            throw InvalidInputException.For<FlowMatchEulerDiscreteOptions>(nameof(FlowMatchEulerDiscreteOptions.Mu),
                ": use_dynamic_shifting needs mu, the time shift of this image size (Flux computes it from the sequence length)");
        StartRunOver(FlowSchedule.InferenceSigmas(numInferenceSteps, Options.Mu, Options.SingleShift));
    }

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, missingIsLast: false);
        float sigma = run.Sigmas[i], sigmaNext = run.Sigmas[i + 1];

        // one Euler step of the ODE, dσ = σ_{i+1} - σ_i in float32 as diffusers subtracts its 0-d tensors
        using var change = modelOutput * (sigmaNext - sigma);
        var prevSample = sample + change;
        var predOriginal = PredictOriginal(sample, modelOutput, sigma);
        run.Advance();
        return new SchedulerStepOutput(prevSample, predOriginal);
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson() => FlowMatchConfig.Write(ClassName, FlowSchedule, dynamicShiftingKeys: true);

    private protected override IScheduler Rebuild(SamplerOverrides overrides) =>
        new FlowMatchEulerDiscreteScheduler(Options with { SingleShift = Options.SingleShift || overrides.SingleShift });

    /// <summary>Flow Euler over the basis's flow-matching noise levels.</summary>
    internal static FlowMatchEulerDiscreteScheduler Create(SamplerBasis basis) =>
        new(new FlowMatchEulerDiscreteOptions(basis.FlowSchedule, SingleShift: basis.SingleShift));

    /// <summary>Builds the scheduler from the keys FlowMatchEulerDiscreteScheduler reads.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static FlowMatchEulerDiscreteScheduler FromConfig(SchedulerConfigReader r) =>
        new(new FlowMatchEulerDiscreteOptions(FlowMatchConfig.Read(r, dynamicShiftingKeys: true)));

    private static FlowMatchEulerDiscreteOptions Checked(FlowMatchEulerDiscreteOptions options)
    {
        options.Validate();
        return options;
    }
}
