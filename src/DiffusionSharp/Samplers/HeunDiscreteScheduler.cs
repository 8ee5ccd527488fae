using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Heun's second-order method (Karras et al. 2022, algorithm 1 with S_churn = 0), compatible with diffusers'
/// <c>HeunDiscreteScheduler</c>. Each of the N steps needs two model calls, so, as in diffusers, every timestep but
/// the first appears twice in <see cref="TimelineScheduler.Timesteps"/> (2N - 1 entries) and the plain loop "predict, step" works
/// unchanged: the first call of a pair takes an Euler step and remembers its slope, the second corrects it with the
/// average slope. The last step, down to σ = 0, is a plain Euler step.
/// </summary>
/// <remarks>
/// Notation (variable → paper): <c>sigma</c>, <c>sigmaNext</c> → σ_i, σ_{i+1}; <c>derivative</c> → d_i = (x_i - D(x_i; σ_i))/σ_i
/// for the first call and d'_i = (x_{i+1} - D(x_{i+1}; σ_{i+1}))/σ_{i+1} for the second; <c>_dt</c> → σ_{i+1} - σ_i;
/// the corrected step is x_{i+1} = x_i + (σ_{i+1} - σ_i)·(d_i + d'_i)/2.
/// </remarks>
public sealed class HeunDiscreteScheduler : EulerFamilyScheduler
{
    public const string ClassName = "HeunDiscreteScheduler";

    private Tensor? _prevDerivative;
    private Tensor? _sample;
    private double? _dt;

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public HeunDiscreteScheduler(HeunDiscreteOptions options)
        : base(options)
    {
        Options = options;
    }

    /// <summary>The options this scheduler was built with.</summary>
    public HeunDiscreteOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "heun";

    /// <summary>True when the next <see cref="Step"/> is the first (Euler) call of a pair.</summary>
    public bool StateInFirstOrder => _dt is null;

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        var (timesteps, sigmas) = BuildSigmas(numInferenceSteps, Options.StepsOffset, Options.UseKarrasSigmas, sigmaMin: null, sigmaMax: null, finalSigma: 0f);
        // every intermediate sigma and every timestep after the first is visited twice
        var doubledSigmas = new List<float> { sigmas[0] };
        for (int k = 1; k < sigmas.Length - 1; k++) doubledSigmas.AddRange([sigmas[k], sigmas[k]]);
        doubledSigmas.Add(sigmas[^1]);
        var doubledTimesteps = new List<double> { timesteps[0] };
        for (int k = 1; k < timesteps.Length; k++) doubledTimesteps.AddRange([timesteps[k], timesteps[k]]);
        ClearState();
        StartRun(doubledTimesteps.ToArray(), doubledSigmas.ToArray());
    }

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, missingIsLast: false);
        bool first = StateInFirstOrder;
        double sigma = first ? run.Sigmas[i] : run.Sigmas[i - 1];
        double sigmaNext = first ? run.Sigmas[i + 1] : run.Sigmas[i];

        // 1. the denoised estimate at the point the model was evaluated: σ_i for the first call, σ_{i+1} for the second
        var predOriginal = ModelOutputConversion.PredictOriginalSampleVe(PredictionType, modelOutput, sample, first ? sigma : sigmaNext);
        if (Options.ClipSample)
        {
            var clipped = predOriginal.clamp(-Options.ClipSampleRange, Options.ClipSampleRange);
            predOriginal.Dispose();
            predOriginal = clipped;
        }

        Tensor prevSample;
        if (first)
        {
            // 2. the slope d_i and an Euler step, remembered for the correction
            var derivative = (sample - predOriginal) / sigma;
            double dt = sigmaNext - sigma;
            prevSample = sample + derivative * dt;
            _prevDerivative = derivative.DetachFromDisposeScope();
            _sample = sample.clone().DetachFromDisposeScope();
            _dt = dt;
        }
        else
        {
            // 2. the slope d'_i at the Euler point, averaged with d_i, applied from the remembered x_i
            using var slope = (sample - predOriginal) / sigmaNext;
            using var average = (_prevDerivative! + slope) / 2;
            prevSample = _sample! + average * _dt!.Value;
            ClearState();
        }

        run.Advance();
        return new SchedulerStepOutput(prevSample, predOriginal);
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson()
    {
        var json = SchedulerConfigWriter.Begin(ClassName, Options.Schedule);
        json["prediction_type"] = Options.PredictionType.ToDiffusersName();
        json["use_karras_sigmas"] = Options.UseKarrasSigmas;
        json["clip_sample"] = Options.ClipSample;
        json["clip_sample_range"] = Options.ClipSampleRange;
        json["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        json["steps_offset"] = Options.StepsOffset;
        return json;
    }

    private protected override IScheduler Rebuild(SamplerOverrides overrides) => new HeunDiscreteScheduler(Options with
    {
        UseKarrasSigmas = overrides.KarrasSigmasOr(Options.UseKarrasSigmas), TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing),
    });

    /// <summary>Heun over the basis (spacing default linspace, no clipping).</summary>
    internal static HeunDiscreteScheduler Create(SamplerBasis basis) => new(new HeunDiscreteOptions(
        basis.Schedule, basis.PredictionType, basis.KarrasSigmas,
        TimestepSpacing: basis.TimestepSpacing ?? TimestepSpacing.Linspace, StepsOffset: basis.StepsOffset));

    /// <summary>Builds the scheduler from the keys HeunDiscreteScheduler reads.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static HeunDiscreteScheduler FromConfig(SchedulerConfigReader r)
    {
        var options = new HeunDiscreteOptions(
            r.NoiseSchedule(HeunDiscreteOptions.DefaultSchedule, hasZeroSnrKey: false),
            r.PredictionType(PredictionType.Epsilon),
            r.Bool("use_karras_sigmas", false),
            r.Bool("clip_sample", false),
            r.Double("clip_sample_range", 1.0),
            r.TimestepSpacing(TimestepSpacing.Linspace),
            r.StepsOffset());
        r.RequireNewerKeysOff();
        return new HeunDiscreteScheduler(options);
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
