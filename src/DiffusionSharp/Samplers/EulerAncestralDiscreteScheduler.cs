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
public sealed class EulerAncestralDiscreteScheduler : EulerFamilyScheduler
{
    public const string ClassName = "EulerAncestralDiscreteScheduler";

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public EulerAncestralDiscreteScheduler(EulerAncestralDiscreteOptions options)
        : base(options)
    {
        Options = options;
    }

    /// <summary>The options this scheduler was built with.</summary>
    public EulerAncestralDiscreteOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "euler-ancestral";

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        var (timesteps, sigmas) = BuildSigmas(numInferenceSteps, Options.StepsOffset, useKarras: false, sigmaMin: null, sigmaMax: null, finalSigma: 0f);
        StartRun(timesteps, sigmas);
    }

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
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

    /// <inheritdoc />
    public override JsonObject ToConfigJson()
    {
        var json = SchedulerConfigWriter.Begin(ClassName, Options.Schedule);
        json["prediction_type"] = Options.PredictionType.ToDiffusersName();
        json["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        json["steps_offset"] = Options.StepsOffset;
        json["rescale_betas_zero_snr"] = Options.Schedule.RescaleBetasZeroSnr;
        return json;
    }

    private protected override IScheduler Rebuild(SamplerOverrides overrides) =>
        new EulerAncestralDiscreteScheduler(Options with { TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing) });

    /// <summary>Euler ancestral over the basis (spacing default linspace).</summary>
    internal static EulerAncestralDiscreteScheduler Create(SamplerBasis basis) => new(new EulerAncestralDiscreteOptions(
        basis.Schedule, basis.PredictionType, basis.TimestepSpacing ?? TimestepSpacing.Linspace, basis.StepsOffset));

    /// <summary>Builds the scheduler from the keys EulerAncestralDiscreteScheduler reads.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static EulerAncestralDiscreteScheduler FromConfig(SchedulerConfigReader r)
    {
        var options = new EulerAncestralDiscreteOptions(
            r.NoiseSchedule(),
            r.PredictionType(PredictionType.Epsilon),
            r.TimestepSpacing(TimestepSpacing.Linspace),
            r.StepsOffset());
        r.RequireNewerKeysOff();
        return new EulerAncestralDiscreteScheduler(options);
    }
}
