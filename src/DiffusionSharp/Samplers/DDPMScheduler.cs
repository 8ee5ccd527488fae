using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Ancestral sampling of Ho et al. (2020), "Denoising Diffusion Probabilistic Models": x_{t-1} ~ q(x_{t-1} | x_t, x_0 = x̂_0),
/// the Gaussian posterior with the predicted x_0 plugged in. Stochastic: every step with t &gt; 0 adds noise.
/// Matches diffusers' <c>DDPMScheduler</c> (0.30.3), float32 arithmetic included.
/// </summary>
public sealed class DDPMScheduler : IScheduler
{
    /// <summary>diffusers' class name, the <c>_class_name</c> of its config.</summary>
    public const string ClassName = "DDPMScheduler";

    private readonly IntegerTimesteps _timesteps;

    /// <summary>A DDPM sampler over <paramref name="schedule"/>.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public DDPMScheduler(NoiseSchedule schedule, DDPMSchedulerOptions? options = null)
    {
        Schedule = schedule;
        Options = options ?? new DDPMSchedulerOptions();
        Options.Validate();
        _timesteps = new IntegerTimesteps(schedule.NumTrainTimesteps);
    }

    /// <summary>A DDPM sampler over a new schedule table built from <paramref name="schedule"/>.</summary>
    public DDPMScheduler(NoiseScheduleConfig schedule, DDPMSchedulerOptions? options = null)
        : this(NoiseSchedule.Create(schedule), options) { }

    /// <inheritdoc />
    public string Name => "ddpm";

    /// <inheritdoc />
    public NoiseSchedule Schedule { get; }

    /// <summary>The sampling options.</summary>
    public DDPMSchedulerOptions Options { get; }

    /// <inheritdoc />
    public PredictionType PredictionType => Options.PredictionType;

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => _timesteps.Values;

    /// <inheritdoc />
    public double InitNoiseSigma => 1.0;

    /// <inheritdoc />
    public void SetTimesteps(int numInferenceSteps) => _timesteps.Set(Options.TimestepSpacing, numInferenceSteps, Options.StepsOffset);

    /// <inheritdoc />
    public SamplerCapabilities Capabilities => SamplerCatalog.Get(Name).Capabilities;

    /// <inheritdoc />
    public void SetBeginIndex(int beginIndex) => _timesteps.CheckIndex(beginIndex, nameof(beginIndex));

    /// <inheritdoc />
    public Tensor ScaleModelInput(Tensor sample, double timestep) => sample.alias();

    /// <inheritdoc />
    /// <remarks>
    /// Notation (variable → Ho et al. 2020):
    /// alphaProdT → alpha_bar_t; alphaProdTPrev → alpha_bar_{t'} where t' = t - T/N is the previous inference timestep
    /// (1 past the start); currentAlphaT → alpha_bar_t / alpha_bar_{t'}, the alpha of the whole jump t → t';
    /// currentBetaT → 1 - currentAlphaT; predOriginalSample → x̂_0; the step samples
    /// x_{t'} = x0Coeff·x̂_0 + sampleCoeff·x_t + std·z, z ~ N(0, I).
    /// </remarks>
    public SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var (t, prevT) = _timesteps.Locate(timestep);

        // 1. Alphas and betas of the jump t → t', in float32 like diffusers' 0-dim tensors.
        float alphaProdT = Schedule.AlphasCumprod[t];
        float alphaProdTPrev = prevT >= 0 ? Schedule.AlphasCumprod[prevT] : 1f;
        float betaProdT = 1f - alphaProdT;
        float betaProdTPrev = 1f - alphaProdTPrev;
        float currentAlphaT = alphaProdT / alphaProdTPrev;
        float currentBetaT = 1f - currentAlphaT;

        // 2. Predicted x_0 from the model output (eq. 15 for epsilon), then clipped or thresholded.
        var (alpha, sigma) = ModelOutputConversion.ScalesFromAlphaBar(alphaProdT);
        using var rawOriginal = ModelOutputConversion.PredictOriginalSample(PredictionType, modelOutput, sample, alpha, sigma);
        var predOriginalSample = Options.Clipping.Apply(rawOriginal);

        // 3. Posterior mean mu~_t(x_t, x̂_0) = x0Coeff·x̂_0 + sampleCoeff·x_t (eq. 7).
        float x0Coeff = MathF.Sqrt(alphaProdTPrev) * currentBetaT / betaProdT;
        float sampleCoeff = MathF.Sqrt(currentAlphaT) * betaProdTPrev / betaProdT;
        var prevSample = predOriginalSample * x0Coeff + sample * sampleCoeff;

        // 4. Add std·z while t > 0 (diffusers tests t, not t', so the last trailing step still draws noise, scaled by ~1e-10).
        if (t > 0)
        {
            var noise = StepNoise.Resolve(varianceNoise, generator, modelOutput);
            prevSample = prevSample + noise * StandardDeviation(betaProdT, betaProdTPrev, currentBetaT);
        }
        return new SchedulerStepOutput(prevSample, predOriginalSample);
    }

    /// <summary>
    /// The standard deviation of the reverse step (section 3.2): sqrt(beta~) with the posterior variance
    /// beta~ = (1 - alpha_bar_{t'}) / (1 - alpha_bar_t) · beta (eq. 7), floored at 1e-20, or sqrt(beta) for fixed_large.
    /// </summary>
    private float StandardDeviation(float betaProdT, float betaProdTPrev, float currentBetaT)
    {
        float posteriorVariance = MathF.Max(betaProdTPrev / betaProdT * currentBetaT, 1e-20f);
        return Options.VarianceType switch
        {
            DDPMVarianceType.FixedSmall => MathF.Sqrt(posteriorVariance),
            DDPMVarianceType.FixedSmallLog => MathF.Exp(0.5f * MathF.Log(posteriorVariance)),
            DDPMVarianceType.FixedLarge => MathF.Sqrt(currentBetaT),
            _ => throw new InvalidOperationException($"variance type {Options.VarianceType}"),
        };
    }

    /// <inheritdoc />
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps) =>
        IntegerTimesteps.AddNoise(Schedule, originalSamples, noise, timesteps);

    /// <inheritdoc />
    public double PreviousTimestep(int index) => _timesteps.Previous(index);

    /// <inheritdoc />
    public IScheduler With(SamplerOverrides overrides)
    {
        overrides.CheckFor(Name, Capabilities);
        return new DDPMScheduler(Schedule, Options with { TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing) });
    }

    /// <inheritdoc />
    public JsonObject ToConfigJson()
    {
        var config = SchedulerConfigWriter.Begin(ClassName, Schedule.Config);
        config["variance_type"] = Options.VarianceType.ToDiffusersName();
        config["prediction_type"] = PredictionType.ToDiffusersName();
        SchedulerConfigWriter.AddSampleClipping(config, Options.Clipping);
        config["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        config["steps_offset"] = Options.StepsOffset;
        config["rescale_betas_zero_snr"] = Schedule.Config.RescaleBetasZeroSnr;
        return config;
    }

    /// <summary>DDPM over the basis's schedule, prediction type, variance, clipping, spacing (default leading) and offset.</summary>
    internal static DDPMScheduler Create(SamplerBasis basis) => new(basis.Schedule, new DDPMSchedulerOptions
    {
        PredictionType = basis.PredictionType,
        VarianceType = basis.VarianceType ?? DDPMVarianceType.FixedSmall,
        Clipping = basis.Clipping,
        TimestepSpacing = basis.TimestepSpacing ?? TimestepSpacing.Leading,
        StepsOffset = basis.StepsOffset,
    });

    /// <summary>Builds the scheduler from the keys DDPMScheduler reads, with diffusers' defaults for missing ones.</summary>
    /// <exception cref="InvalidInputException">A value is malformed, out of range or unsupported.</exception>
    internal static DDPMScheduler FromConfig(SchedulerConfigReader config) => new(
        NoiseSchedule.Create(config.NoiseSchedule()),
        new DDPMSchedulerOptions
        {
            PredictionType = config.PredictionType(),
            VarianceType = DDPMVarianceTypes.Parse(config.String("variance_type", "fixed_small")),
            Clipping = config.SampleClipping(),
            TimestepSpacing = config.TimestepSpacing(),
            StepsOffset = config.StepsOffset(),
        });
}
