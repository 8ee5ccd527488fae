using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Song et al. (2021), "Denoising Diffusion Implicit Models": a non-Markovian reverse process with the same training
/// objective as DDPM. eta = 0 is deterministic (an ODE-like sampler that needs few steps); eta = 1 has DDPM's
/// variance. Matches diffusers' <c>DDIMScheduler</c> (0.30.3), float32 arithmetic included.
/// </summary>
public sealed class DDIMScheduler : IScheduler
{
    /// <summary>diffusers' class name, the <c>_class_name</c> of its config.</summary>
    public const string ClassName = "DDIMScheduler";

    private readonly IntegerTimesteps _timesteps;

    /// <summary>A DDIM sampler over <paramref name="schedule"/>.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public DDIMScheduler(NoiseSchedule schedule, DDIMSchedulerOptions? options = null)
    {
        Schedule = schedule;
        Options = options ?? new DDIMSchedulerOptions();
        Options.Validate();
        _timesteps = new IntegerTimesteps(schedule.NumTrainTimesteps);
    }

    /// <summary>A DDIM sampler over a new schedule table built from <paramref name="schedule"/>.</summary>
    public DDIMScheduler(NoiseScheduleConfig schedule, DDIMSchedulerOptions? options = null)
        : this(NoiseSchedule.Create(schedule), options) { }

    /// <inheritdoc />
    public string Name => "ddim";

    /// <inheritdoc />
    public NoiseSchedule Schedule { get; }

    /// <summary>The sampling options.</summary>
    public DDIMSchedulerOptions Options { get; }

    /// <inheritdoc />
    public PredictionType PredictionType => Options.PredictionType;

    /// <summary>The noise scale of each step (<see cref="DDIMSchedulerOptions.Eta"/>).</summary>
    public double Eta => Options.Eta;

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => _timesteps.Values;

    /// <inheritdoc />
    public double InitNoiseSigma => 1.0;

    /// <summary>The same sampler with another eta (diffusers passes eta to every <c>step()</c> call instead); call <see cref="SetTimesteps"/> on it.</summary>
    public DDIMScheduler WithEta(double eta) => new(Schedule, Options with { Eta = eta });

    /// <inheritdoc />
    public void SetTimesteps(int numInferenceSteps) => _timesteps.Set(Options.TimestepSpacing, numInferenceSteps, Options.StepsOffset);

    /// <inheritdoc />
    public SamplerCapabilities Capabilities =>
        Eta > 0 ? SamplerCatalog.Get(Name).Capabilities with { Stochastic = true } : SamplerCatalog.Get(Name).Capabilities;

    /// <inheritdoc />
    public void SetBeginIndex(int beginIndex) => _timesteps.CheckIndex(beginIndex, nameof(beginIndex));

    /// <inheritdoc />
    public Tensor ScaleModelInput(Tensor sample, double timestep) => sample.alias();

    /// <inheritdoc />
    /// <remarks>
    /// Notation (variable → Song et al. 2021, whose alpha is our alpha_bar):
    /// alphaProdT → alpha_t; alphaProdTPrev → alpha_{t-1}, at the previous inference timestep t - T/N (1 or alpha_bar_0 past the start);
    /// predOriginalSample → f_theta(x_t), the "predicted x_0"; predEpsilon → epsilon_theta(x_t);
    /// std → sigma_t(eta); the direction coefficient → sqrt(1 - alpha_{t-1} - sigma_t²), "the direction pointing to x_t".
    /// </remarks>
    public SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var (t, prevT) = _timesteps.Locate(timestep);

        // 1. Alphas of this and the previous timestep, in float32 like diffusers' 0-dim tensors.
        float alphaProdT = Schedule.AlphasCumprod[t];
        float alphaProdTPrev = prevT >= 0 ? Schedule.AlphasCumprod[prevT] : (float)Schedule.FinalAlphaCumprod(Options.SetAlphaToOne);

        // 2. Predicted x_0 and eps from the model output (eq. 12 for epsilon); eps uses the unclipped x_0.
        var (alpha, sigma) = ModelOutputConversion.ScalesFromAlphaBar(alphaProdT);
        using var rawOriginal = ModelOutputConversion.PredictOriginalSample(PredictionType, modelOutput, sample, alpha, sigma);
        using var predEpsilon = ModelOutputConversion.PredictEpsilon(PredictionType, modelOutput, sample, rawOriginal, alpha, sigma);

        // 3. Clip or threshold the predicted x_0.
        var predOriginalSample = Options.Clipping.Apply(rawOriginal);

        // 4. sigma_t(eta) (eq. 16).
        float std = (float)Eta * MathF.Sqrt(Variance(alphaProdT, alphaProdTPrev));

        // 5. x_{t-1} = sqrt(alpha_{t-1})·x̂_0 + sqrt(1 - alpha_{t-1} - sigma_t²)·eps (eq. 12, without the noise).
        //    The floor at 0 only replaces a NaN that float32 rounding can produce when eta = 1.
        float directionCoeff = MathF.Sqrt(MathF.Max(1f - alphaProdTPrev - std * std, 0f));
        var prevSample = predOriginalSample * MathF.Sqrt(alphaProdTPrev) + predEpsilon * directionCoeff;

        // 6. Add sigma_t·z when eta > 0.
        if (Eta > 0)
        {
            var noise = StepNoise.Resolve(varianceNoise, generator, modelOutput);
            prevSample = prevSample + noise * std;
        }
        return new SchedulerStepOutput(prevSample, predOriginalSample);
    }

    /// <summary>
    /// sigma_t(1)² = (1 - alpha_{t-1}) / (1 - alpha_t) · (1 - alpha_t / alpha_{t-1}) (eq. 16 with eta = 1): DDPM's posterior
    /// variance for the jump t → t-1.
    /// </summary>
    private static float Variance(float alphaProdT, float alphaProdTPrev)
    {
        float betaProdT = 1f - alphaProdT;
        float betaProdTPrev = 1f - alphaProdTPrev;
        return betaProdTPrev / betaProdT * (1f - alphaProdT / alphaProdTPrev);
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
        return new DDIMScheduler(Schedule, Options with
        {
            TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing),
            Eta = overrides.Eta ?? Options.Eta,
        });
    }

    /// <inheritdoc />
    public JsonObject ToConfigJson()
    {
        var config = SchedulerConfigWriter.Begin(ClassName, Schedule.Config);
        config["set_alpha_to_one"] = Options.SetAlphaToOne;
        config["steps_offset"] = Options.StepsOffset;
        config["prediction_type"] = PredictionType.ToDiffusersName();
        SchedulerConfigWriter.AddSampleClipping(config, Options.Clipping);
        config["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        config["rescale_betas_zero_snr"] = Schedule.Config.RescaleBetasZeroSnr;
        return config;
    }

    /// <summary>DDIM over the basis's schedule, prediction type, eta, clipping, set_alpha_to_one, spacing (default leading) and offset.</summary>
    internal static DDIMScheduler Create(SamplerBasis basis) => new(basis.Schedule, new DDIMSchedulerOptions
    {
        PredictionType = basis.PredictionType,
        Eta = basis.Eta,
        Clipping = basis.Clipping,
        SetAlphaToOne = basis.SetAlphaToOne ?? true,
        TimestepSpacing = basis.TimestepSpacing ?? TimestepSpacing.Leading,
        StepsOffset = basis.StepsOffset,
    });

    /// <summary>Builds the scheduler from the keys DDIMScheduler reads, with diffusers' defaults for missing ones (eta, which diffusers keeps out of the config, 0).</summary>
    /// <exception cref="InvalidInputException">A value is malformed, out of range or unsupported.</exception>
    internal static DDIMScheduler FromConfig(SchedulerConfigReader config) => new(
        NoiseSchedule.Create(config.NoiseSchedule()),
        new DDIMSchedulerOptions
        {
            PredictionType = config.PredictionType(),
            Clipping = config.SampleClipping(),
            SetAlphaToOne = config.Bool("set_alpha_to_one", true),
            TimestepSpacing = config.TimestepSpacing(),
            StepsOffset = config.StepsOffset(),
        });
}
