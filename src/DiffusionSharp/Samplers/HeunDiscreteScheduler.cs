using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Heun's second-order method (Karras et al. 2022, algorithm 1 with S_churn = 0), compatible with diffusers'
/// <c>HeunDiscreteScheduler</c>. Each of the N steps needs two model calls, so, as in diffusers, every timestep but
/// the first appears twice in <see cref="Timesteps"/> (2N - 1 entries) and the plain loop "predict, step" works
/// unchanged: the first call of a pair takes an Euler step and remembers its slope, the second corrects it with the
/// average slope. The last step, down to σ = 0, is a plain Euler step.
/// </summary>
/// <remarks>
/// Notation (variable → paper): <c>sigma</c>, <c>sigmaNext</c> → σ_i, σ_{i+1}; <c>derivative</c> → d_i = (x_i - D(x_i; σ_i))/σ_i
/// for the first call and d'_i = (x_{i+1} - D(x_{i+1}; σ_{i+1}))/σ_{i+1} for the second; <c>_dt</c> → σ_{i+1} - σ_i;
/// the corrected step is x_{i+1} = x_i + (σ_{i+1} - σ_i)·(d_i + d'_i)/2.
/// </remarks>
public sealed class HeunDiscreteScheduler : IScheduler
{
    public const string ClassName = "HeunDiscreteScheduler";

    private readonly float[] _sigmaTable;
    private SigmaTimeline? _run;
    private Tensor? _prevDerivative;
    private Tensor? _sample;
    private double? _dt;

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public HeunDiscreteScheduler(HeunDiscreteOptions options)
    {
        options.Validate();
        Options = options;
        Schedule = NoiseSchedule.Create(options.Schedule);
        _sigmaTable = SigmaSchedules.SigmaTable(Schedule.AlphasCumprod);
    }

    /// <summary>The options this scheduler was built with.</summary>
    public HeunDiscreteOptions Options { get; }

    /// <inheritdoc />
    public string Name => "heun";

    /// <inheritdoc />
    public NoiseSchedule Schedule { get; }

    /// <inheritdoc />
    public PredictionType PredictionType => Options.PredictionType;

    /// <summary>The 2N - 1 timesteps the loop visits: t_0, then t_1, t_1, t_2, t_2, ... (each model call has its own entry).</summary>
    public IReadOnlyList<double> Timesteps => Run.Timesteps;

    /// <summary>The noise level of each entry of <see cref="Timesteps"/> plus the final 0 (2N float32 values).</summary>
    public IReadOnlyList<float> Sigmas => Run.Sigmas;

    /// <inheritdoc />
    public double InitNoiseSigma => KarrasSigmaSampling.InitNoiseSigma(Run.Sigmas, Options.TimestepSpacing);

    /// <summary>True when the next <see cref="Step"/> is the first (Euler) call of a pair.</summary>
    public bool StateInFirstOrder => _dt is null;

    private SigmaTimeline Run => _run ?? throw new InvalidOperationException("call SetTimesteps before sampling");

    /// <inheritdoc />
    public void SetTimesteps(int numInferenceSteps)
    {
        var (timesteps, sigmas) = KarrasSigmaSampling.Build(_sigmaTable, Options.TimestepSpacing, numInferenceSteps, Options.StepsOffset,
            Options.UseKarrasSigmas, sigmaMin: null, sigmaMax: null, finalSigma: 0f);
        // every intermediate sigma and every timestep after the first is visited twice
        var doubledSigmas = new List<float> { sigmas[0] };
        for (int k = 1; k < sigmas.Length - 1; k++) doubledSigmas.AddRange([sigmas[k], sigmas[k]]);
        doubledSigmas.Add(sigmas[^1]);
        var doubledTimesteps = new List<double> { timesteps[0] };
        for (int k = 1; k < timesteps.Length; k++) doubledTimesteps.AddRange([timesteps[k], timesteps[k]]);
        ClearState();
        _run = new SigmaTimeline(doubledTimesteps.ToArray(), doubledSigmas.ToArray());
    }

    /// <summary>Starts the next run at timestep index <paramref name="beginIndex"/> (diffusers' <c>set_begin_index</c>, for image-to-image).</summary>
    public void SetBeginIndex(int beginIndex) => Run.BeginIndex = beginIndex;

    /// <inheritdoc />
    public Tensor ScaleModelInput(Tensor sample, double timestep) =>
        KarrasSigmaSampling.ScaleModelInput(sample, Run.Sigmas[Run.Current(timestep, missingIsLast: false)]);

    /// <inheritdoc />
    public SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
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

    /// <summary>The VE forward process x_0 + σ·noise at the run's noise levels (diffusers' <c>add_noise</c>; call after <see cref="SetTimesteps"/>).</summary>
    /// <param name="originalSamples">x_0 [B, C, H, W].</param>
    /// <param name="noise">ε, same shape.</param>
    /// <param name="timesteps">One timestep per batch item, each an element of <see cref="Timesteps"/>.</param>
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps) =>
        KarrasSigmaSampling.AddNoise(Run, originalSamples, noise, timesteps);

    /// <inheritdoc />
    public JsonObject ToConfigJson()
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

    /// <summary>Builds the scheduler from a diffusers <c>scheduler_config.json</c> object.</summary>
    /// <exception cref="InvalidInputException">A key is unknown, or an option is unsupported or out of range.</exception>
    public static HeunDiscreteScheduler FromConfigJson(JsonObject json, string? source = "scheduler_config.json")
    {
        var r = SchedulerConfigReader.ForClass(json, ClassName, source);
        var options = new HeunDiscreteOptions(
            r.NoiseSchedule(HeunDiscreteOptions.DefaultSchedule, hasZeroSnrKey: false),
            r.PredictionType(PredictionType.Epsilon),
            r.Bool("use_karras_sigmas", false),
            r.Bool("clip_sample", false),
            r.Double("clip_sample_range", 1.0),
            r.TimestepSpacing(TimestepSpacing.Linspace),
            r.StepsOffset());
        DPMSolverMultistepScheduler.RequireNewerKeysOff(r);
        r.RejectUnknownKeys();
        return r.Build(() => new HeunDiscreteScheduler(options));
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
