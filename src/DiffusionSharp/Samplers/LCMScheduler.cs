using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Luo et al. (2023), "Latent Consistency Models": multistep consistency sampling for a consistency-distilled model.
/// Each step maps x_t to the boundary-conditioned estimate f(x_t, t) = c_skip(t)·x_t + c_out(t)·x̂_0 and, except at the
/// last step, noises it afresh to the next timestep. Matches diffusers' <c>LCMScheduler</c> (0.30.3), float32 arithmetic
/// included; on a model that was not consistency-distilled it gives blurry samples at few steps, like any one-step x̂_0.
/// </summary>
public sealed class LCMScheduler : IScheduler
{
    /// <summary>diffusers' class name, the <c>_class_name</c> of its config.</summary>
    public const string ClassName = "LCMScheduler";

    /// <summary>σ_data of the consistency boundary condition, a constant of diffusers' scheduler.</summary>
    private const double SigmaData = 0.5;

    private double[] _timesteps = [];
    private int _stepIndex = -1;

    /// <summary>An LCM sampler over <paramref name="schedule"/>.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public LCMScheduler(NoiseSchedule schedule, LCMSchedulerOptions? options = null)
    {
        Schedule = schedule;
        Options = options ?? new LCMSchedulerOptions();
        Options.Validate();
        if (schedule.NumTrainTimesteps / Options.OriginalInferenceSteps < 1)
            throw new InvalidInputException(
                $"original_inference_steps: {Options.OriginalInferenceSteps} is more than the {schedule.NumTrainTimesteps} training timesteps");
    }

    /// <inheritdoc />
    public string Name => "lcm";

    /// <inheritdoc />
    public NoiseSchedule Schedule { get; }

    /// <summary>The sampling options.</summary>
    public LCMSchedulerOptions Options { get; }

    /// <inheritdoc />
    public PredictionType PredictionType => Options.PredictionType;

    /// <inheritdoc />
    public IReadOnlyList<double> Timesteps => _timesteps;

    /// <inheritdoc />
    public double InitNoiseSigma => 1.0;

    /// <inheritdoc />
    public SamplerCapabilities Capabilities => SamplerCatalog.Get(Name).Capabilities;

    /// <summary>
    /// diffusers' <c>set_timesteps(n)</c>: the skipping-step grid t_k = k·(T / original) − 1, k = 1..original, reversed,
    /// and n of its entries at indices floor(j·(original/n)), j = 0..n−1 (numpy's linspace without its end point).
    /// </summary>
    /// <exception cref="InvalidInputException">More steps than the grid has.</exception>
    public void SetTimesteps(int numInferenceSteps)
    {
        int original = Options.OriginalInferenceSteps;
        if (numInferenceSteps < 1 || numInferenceSteps > original)
            throw new InvalidInputException(
                $"steps: LCM takes 1 to original_inference_steps = {original} steps (got {numInferenceSteps})");
        int k = Schedule.NumTrainTimesteps / original;
        var grid = Enumerable.Range(1, original).Select(i => i * k - 1).Reverse().ToArray();
        _timesteps = Enumerable.Range(0, numInferenceSteps)
            .Select(j => (double)grid[(int)Math.Floor(j * ((double)original / numInferenceSteps))]).ToArray();
        _stepIndex = -1;
    }

    /// <inheritdoc />
    public void SetBeginIndex(int beginIndex)
    {
        if (beginIndex < 0 || beginIndex >= _timesteps.Length)
            throw new ArgumentOutOfRangeException(nameof(beginIndex), beginIndex, $"expected an index of the {_timesteps.Length} timesteps (call SetTimesteps first)");
        if (beginIndex > 0) throw new NotSupportedException($"the lcm sampler cannot start mid-schedule: {Capabilities.CannotEditReason}");
    }

    /// <inheritdoc />
    public Tensor ScaleModelInput(Tensor sample, double timestep) => sample.alias();

    /// <inheritdoc />
    /// <remarks>
    /// Notation (variable → Luo et al. 2023, Song et al. 2023): alphaProdT → ᾱ_t; alphaProdTPrev → ᾱ at the next
    /// timestep of the run (the step's own t at the last step); cSkip, cOut → c_skip(t), c_out(t) of the boundary condition
    /// with σ_data = 0.5 and t scaled by timestep_scaling; denoised → f_θ(x_t, t).
    /// </remarks>
    public SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        if (_timesteps.Length == 0) throw new InvalidOperationException("call SetTimesteps before Step");
        // 1. the step index: diffusers finds the timestep in the run on the first call, then counts
        if (_stepIndex < 0) _stepIndex = Math.Max(0, Array.IndexOf(_timesteps, timestep));
        int t = (int)timestep;
        int prevT = _stepIndex + 1 < _timesteps.Length ? (int)_timesteps[_stepIndex + 1] : t;

        // 2. alphas of this and the next timestep, in float32 like diffusers' 0-dim tensors
        float alphaProdT = Schedule.AlphasCumprod[t];
        float alphaProdTPrev = prevT >= 0 ? Schedule.AlphasCumprod[prevT] : (float)Schedule.FinalAlphaCumprod(Options.SetAlphaToOne);
        float betaProdTPrev = 1f - alphaProdTPrev;

        // 3. the boundary-condition scalings (consistency models, eq. 7), computed in double as diffusers does in Python
        double scaled = timestep * Options.TimestepScaling;
        float cSkip = (float)(SigmaData * SigmaData / (scaled * scaled + SigmaData * SigmaData));
        float cOut = (float)(scaled / Math.Sqrt(scaled * scaled + SigmaData * SigmaData));

        // 4. the predicted x_0, clipped or thresholded, and f(x_t, t) = c_skip·x_t + c_out·x̂_0
        var (alpha, sigma) = ModelOutputConversion.ScalesFromAlphaBar(alphaProdT);
        using var rawOriginal = ModelOutputConversion.PredictOriginalSample(PredictionType, modelOutput, sample, alpha, sigma);
        using var predOriginalSample = Options.Clipping.Apply(rawOriginal);
        using var skipped = sample * cSkip;
        var denoised = predOriginalSample * cOut + skipped;

        // 5. noise f afresh to the next timestep, except at the last step (multistep consistency sampling)
        Tensor prevSample;
        if (_stepIndex != _timesteps.Length - 1)
        {
            using var noise = StepNoise.Resolve(varianceNoise, generator, modelOutput);
            using var mean = denoised * MathF.Sqrt(alphaProdTPrev);
            prevSample = mean + noise * MathF.Sqrt(betaProdTPrev);
        }
        else
        {
            prevSample = denoised.alias();
        }
        _stepIndex++;
        return new SchedulerStepOutput(prevSample, denoised);
    }

    /// <inheritdoc />
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps) =>
        IntegerTimesteps.AddNoise(Schedule, originalSamples, noise, timesteps);

    /// <summary>The timestep after <c>Timesteps[index]</c> in the run; -1 (past the clean end) for the last step, which returns f(x_t, t) itself.</summary>
    public double PreviousTimestep(int index)
    {
        if (index < 0 || index >= _timesteps.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"expected an index of the {_timesteps.Length} timesteps (call SetTimesteps first)");
        return index + 1 < _timesteps.Length ? _timesteps[index + 1] : -1;
    }

    /// <inheritdoc />
    public IScheduler With(SamplerOverrides overrides)
    {
        overrides.CheckFor(Name, Capabilities);
        return new LCMScheduler(Schedule, Options with { TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing) });
    }

    /// <inheritdoc />
    public JsonObject ToConfigJson()
    {
        var config = SchedulerConfigWriter.Begin(ClassName, Schedule.Config);
        config["original_inference_steps"] = Options.OriginalInferenceSteps;
        SchedulerConfigWriter.AddSampleClipping(config, Options.Clipping);
        config["set_alpha_to_one"] = Options.SetAlphaToOne;
        config["steps_offset"] = Options.StepsOffset;
        config["prediction_type"] = PredictionType.ToDiffusersName();
        config["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        config["timestep_scaling"] = Options.TimestepScaling;
        config["rescale_betas_zero_snr"] = Schedule.Config.RescaleBetasZeroSnr;
        return config;
    }

    /// <summary>LCM over the basis's schedule, prediction type, clipping (off unless the basis clips) and set_alpha_to_one.</summary>
    internal static LCMScheduler Create(SamplerBasis basis) => new(NoiseSchedule.Create(basis.Schedule), new LCMSchedulerOptions
    {
        PredictionType = basis.PredictionType,
        Clipping = basis.Clipping,
        SetAlphaToOne = basis.SetAlphaToOne ?? true,
        TimestepSpacing = basis.TimestepSpacing ?? TimestepSpacing.Leading,
        StepsOffset = basis.StepsOffset,
    });

    /// <summary>Builds the scheduler from the keys LCMScheduler reads, with diffusers' defaults for missing ones.</summary>
    /// <exception cref="InvalidInputException">A value is malformed, out of range or unsupported.</exception>
    internal static LCMScheduler FromConfig(SchedulerConfigReader config) => new(
        NoiseSchedule.Create(config.NoiseSchedule()),
        new LCMSchedulerOptions
        {
            PredictionType = config.PredictionType(),
            Clipping = config.SampleClipping(clipSampleDefault: false),
            SetAlphaToOne = config.Bool("set_alpha_to_one", true),
            OriginalInferenceSteps = config.Int("original_inference_steps", 50),
            TimestepScaling = config.Double("timestep_scaling", 10.0),
            TimestepSpacing = config.TimestepSpacing(),
            StepsOffset = config.StepsOffset(),
        });
}
