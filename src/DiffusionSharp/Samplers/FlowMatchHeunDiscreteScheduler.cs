using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Heun's second-order method on the flow-matching ODE dx/dσ = v(x, σ), compatible with diffusers'
/// <c>FlowMatchHeunDiscreteScheduler</c>. As in <see cref="HeunDiscreteScheduler"/>, every timestep after the first
/// appears twice (2N - 1 entries, sigmas s0, s1, s1, ..., 0), so the plain loop works: the first call of a pair takes an
/// Euler step and remembers its slope, the second corrects it with the average slope; the last step, to σ = 0, is a
/// plain Euler step. 2N - 1 model calls for N steps; deterministic.
/// </summary>
/// <remarks>
/// Notation (variable → paper): <c>sigma</c>, <c>sigmaNext</c> → σ_i, σ_{i+1}; <c>derivative</c> → d_i = (x - D)/σ with the
/// denoised D = x - σ·v, so d_i = v up to float32 rounding, as diffusers computes it; <c>_dt</c> → σ_{i+1} - σ_i; the
/// corrected step is x_{i+1} = x_i + (σ_{i+1} - σ_i)·(d_i + d'_i)/2.
/// </remarks>
public sealed class FlowMatchHeunDiscreteScheduler : FlowMatchScheduler
{
    public const string ClassName = "FlowMatchHeunDiscreteScheduler";

    private Tensor? _prevDerivative;
    private Tensor? _sample;
    private float? _dt;

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public FlowMatchHeunDiscreteScheduler(FlowMatchHeunDiscreteOptions options) : base(Checked(options).Schedule)
    {
        Options = options;
    }

    /// <summary>The options this scheduler was built with.</summary>
    public FlowMatchHeunDiscreteOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "flow-heun";

    /// <summary>True when the next <see cref="Step"/> is the first (Euler) call of a pair.</summary>
    public bool StateInFirstOrder => _dt is null;

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        var sigmas = FlowSchedule.InferenceSigmas(numInferenceSteps, singleShift: Options.SingleShift);
        // timesteps t0, t1, t1, t2, t2, ...; sigmas s0, s1, s1, ..., s_{N-1}, s_{N-1}, 0
        var timesteps = new List<double> { FlowSchedule.TimestepOf(sigmas[0]) };
        var doubled = new List<float> { sigmas[0] };
        for (int k = 1; k < sigmas.Length; k++)
        {
            timesteps.AddRange([FlowSchedule.TimestepOf(sigmas[k]), FlowSchedule.TimestepOf(sigmas[k])]);
            doubled.AddRange([sigmas[k], sigmas[k]]);
        }
        doubled.Add(0f);
        ClearState();
        StartRun(timesteps.ToArray(), doubled.ToArray());
    }

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, missingIsLast: false);
        bool first = StateInFirstOrder;
        float sigma = first ? run.Sigmas[i] : run.Sigmas[i - 1];
        float sigmaNext = first ? run.Sigmas[i + 1] : run.Sigmas[i];

        // 1. the denoised estimate D = x - σ·v at the point the model was evaluated, and the slope there
        float at = first ? sigma : sigmaNext;
        var denoised = PredictOriginal(sample, modelOutput, at);
        using var difference = sample - denoised;
        var slope = difference / at;

        Tensor prevSample;
        if (first)
        {
            // 2. an Euler step, remembered for the correction
            float dt = sigmaNext - sigma;
            prevSample = sample + slope * dt;
            _prevDerivative = slope.DetachFromDisposeScope();
            _sample = sample.clone().DetachFromDisposeScope();
            _dt = dt;
        }
        else
        {
            // 2. the average of both slopes, applied from the remembered x_i
            using (slope)
            {
                using var sum = _prevDerivative! + slope;
                using var average = sum * 0.5;
                using var change = average * _dt!.Value;
                prevSample = _sample! + change;
            }
            ClearState();
        }

        run.Advance();
        return new SchedulerStepOutput(prevSample, denoised);
    }

    /// <summary>
    /// diffusers' Heun <c>scale_noise</c>: the step index is set from the first item's timestep (its second occurrence in
    /// the doubled schedule), or the begin index, and that one σ noises the whole batch.
    /// </summary>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps)
    {
        float sigma = Run.Sigmas[Run.Current(timesteps[0], missingIsLast: false)];
        using var s = tensor(sigma, dtype: ScalarType.Float32).to(originalSamples.device);
        return Interpolate(originalSamples, noise, s);
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson() => FlowMatchConfig.Write(ClassName, FlowSchedule, dynamicShiftingKeys: false);

    private protected override IScheduler Rebuild(SamplerOverrides overrides) =>
        new FlowMatchHeunDiscreteScheduler(Options with { SingleShift = Options.SingleShift || overrides.SingleShift });

    /// <summary>Flow Heun over the basis's flow-matching noise levels.</summary>
    internal static FlowMatchHeunDiscreteScheduler Create(SamplerBasis basis) =>
        new(new FlowMatchHeunDiscreteOptions(basis.FlowSchedule, basis.SingleShift));

    /// <summary>Builds the scheduler from the keys FlowMatchHeunDiscreteScheduler reads.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static FlowMatchHeunDiscreteScheduler FromConfig(SchedulerConfigReader r) =>
        new(new FlowMatchHeunDiscreteOptions(FlowMatchConfig.Read(r, dynamicShiftingKeys: false)));

    private static FlowMatchHeunDiscreteOptions Checked(FlowMatchHeunDiscreteOptions options)
    {
        options.Validate();
        return options;
    }

    private void ClearState()
    {
        _prevDerivative?.Dispose();
        _sample?.Dispose();
        _prevDerivative = null;
        _sample = null;
        _dt = null;
    }
}
