using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Euler ancestral sampling (k-diffusion's <c>sample_euler_ancestral</c>), compatible with diffusers'
/// <c>EulerAncestralDiscreteScheduler</c>: each step goes deterministically down to σ_down, then adds fresh noise of
/// standard deviation σ_up, so that σ_down² + σ_up² = σ_{i+1}² and the step matches the DDPM ancestral variance.
/// Stochastic: every step needs noise (the last one scales it by σ_up = 0).
/// </summary>
/// <remarks>
/// Notation (variable → meaning): <c>sigmaFrom</c>, <c>sigmaTo</c> → σ_i, σ_{i+1};
/// <c>sigmaUp</c> → σ_up = sqrt(σ_{i+1}²(σ_i² - σ_{i+1}²)/σ_i²); <c>sigmaDown</c> → σ_down = sqrt(σ_{i+1}² - σ_up²);
/// <c>predOriginal</c> → D(x; σ_i); <c>derivative</c> → (x - D)/σ_i.
/// </remarks>
public sealed class EulerAncestralDiscreteScheduler : IScheduler
{
    public const string ClassName = "EulerAncestralDiscreteScheduler";

    private readonly float[] _sigmaTable;
    private SigmaTimeline? _run;

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public EulerAncestralDiscreteScheduler(EulerAncestralDiscreteOptions options)
    {
        options.Validate();
        Options = options;
        Schedule = NoiseSchedule.Create(options.Schedule);
        _sigmaTable = SigmaSchedules.SigmaTable(SigmaSchedules.SamplerAlphasCumprod(Schedule));
    }

    /// <summary>The options this scheduler was built with.</summary>
    public EulerAncestralDiscreteOptions Options { get; }

    /// <inheritdoc />
    public string Name => "euler-ancestral";

    /// <inheritdoc />
    public NoiseSchedule Schedule { get; }

    /// <inheritdoc />
    public PredictionType PredictionType => Options.PredictionType;

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => Run.Timesteps;

    /// <summary>The noise level of each timestep plus the final 0 (N + 1 float32 values, descending).</summary>
    public IReadOnlyList<float> Sigmas => Run.Sigmas;

    /// <inheritdoc />
    public double InitNoiseSigma => KarrasSigmaSampling.InitNoiseSigma(Run.Sigmas, Options.TimestepSpacing);

    private SigmaTimeline Run => _run ?? throw new InvalidOperationException("call SetTimesteps before sampling");

    /// <inheritdoc />
    public void SetTimesteps(int numInferenceSteps)
    {
        var (timesteps, sigmas) = KarrasSigmaSampling.Build(_sigmaTable, Options.TimestepSpacing, numInferenceSteps, Options.StepsOffset,
            useKarras: false, sigmaMin: null, sigmaMax: null, finalSigma: 0f);
        _run = new SigmaTimeline(timesteps, sigmas);
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
        double sigmaFrom = run.Sigmas[i], sigmaTo = run.Sigmas[i + 1];

        // 1. the denoised estimate D(x; σ_i)
        var predOriginal = ModelOutputConversion.PredictOriginalSampleVe(PredictionType, modelOutput, sample, sigmaFrom);

        // 2. split σ_{i+1} into a deterministic part σ_down and a fresh-noise part σ_up
        double sigmaUp = Math.Sqrt(sigmaTo * sigmaTo * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo) / (sigmaFrom * sigmaFrom));
        double sigmaDown = Math.Sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);

        // 3. an Euler step from σ_i down to σ_down, then noise up to σ_{i+1}
        using var derivative = (sample - predOriginal) / sigmaFrom;
        using var deterministic = sample + derivative * (sigmaDown - sigmaFrom);
        var noise = StepNoise.Resolve(varianceNoise, generator, sample);
        var prevSample = deterministic + noise * sigmaUp;

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
        json["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        json["steps_offset"] = Options.StepsOffset;
        json["rescale_betas_zero_snr"] = Options.Schedule.RescaleBetasZeroSnr;
        return json;
    }

    /// <summary>Builds the scheduler from a diffusers <c>scheduler_config.json</c> object.</summary>
    /// <exception cref="InvalidInputException">A key is unknown, or an option is unsupported or out of range.</exception>
    public static EulerAncestralDiscreteScheduler FromConfigJson(JsonObject json, string? source = "scheduler_config.json")
    {
        var r = SchedulerConfigReader.ForClass(json, ClassName, source);
        var options = new EulerAncestralDiscreteOptions(
            r.NoiseSchedule(),
            r.PredictionType(PredictionType.Epsilon),
            r.TimestepSpacing(TimestepSpacing.Linspace),
            r.StepsOffset());
        DPMSolverMultistepScheduler.RequireNewerKeysOff(r);
        r.RejectUnknownKeys();
        return r.Build(() => new EulerAncestralDiscreteScheduler(options));
    }
}
