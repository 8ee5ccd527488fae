using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The Euler sampler of Karras et al. (2022), algorithm 2, compatible with diffusers' <c>EulerDiscreteScheduler</c>:
/// one model call per step along the probability-flow ODE dx/dσ = (x - D(x; σ))/σ in the VE parameterisation.
/// With <c>s_churn = 0</c> (the default) it is deterministic.
/// </summary>
/// <remarks>
/// Notation (variable → paper): <c>sigma</c> → σ_i; <c>sigmaHat</c> → σ̂_i = σ_i·(γ_i + 1), the noise level after
/// churn; <c>gamma</c> → γ_i = min(S_churn/N, √2 - 1) inside [S_tmin, S_tmax]; <c>predOriginal</c> → D(x̂; σ̂);
/// <c>derivative</c> → d_i = (x̂ - D)/σ̂; <c>dt</c> → σ_{i+1} - σ̂_i. The sample is x = x_t/α_t, which is why
/// <see cref="TimelineScheduler.InitNoiseSigma"/> is σ_max and <see cref="TimelineScheduler.ScaleModelInput"/> divides by sqrt(σ² + 1).
/// </remarks>
public sealed class EulerDiscreteScheduler : EulerFamilyScheduler
{
    public const string ClassName = "EulerDiscreteScheduler";

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public EulerDiscreteScheduler(EulerDiscreteOptions options)
        : base(options)
    {
        Options = options;
    }

    /// <summary>The options this scheduler was built with.</summary>
    public EulerDiscreteOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "euler";

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        float finalSigma = Options.FinalSigmas == FinalSigmasType.SigmaMin ? SigmaTable[0] : 0f;
        var (timesteps, sigmas) = BuildSigmas(numInferenceSteps, Options.StepsOffset, Options.UseKarrasSigmas, Options.SigmaMin, Options.SigmaMax, finalSigma);
        StartRun(timesteps, sigmas);
    }

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, missingIsLast: false);
        float sigma = run.Sigmas[i];

        // 1. churn: raise the noise level to σ̂ = σ(γ + 1) by adding fresh noise (skipped when S_churn = 0)
        double gamma = Options.STmin <= sigma && sigma <= Options.STmax
            ? Math.Min(Options.SChurn / (run.Sigmas.Length - 1), Math.Sqrt(2) - 1)
            : 0.0;
        double sigmaHat = sigma * (gamma + 1);
        Tensor? churned = null;
        if (gamma > 0)
        {
            var eps = StepNoise.Resolve(varianceNoise, generator, sample);
            churned = sample + eps * (Options.SNoise * Math.Sqrt(sigmaHat * sigmaHat - (double)sigma * sigma));
        }
        var x = churned ?? sample;

        // 2. the denoised estimate D(x̂; σ̂) (v-prediction uses σ, as diffusers does)
        var predOriginal = ModelOutputConversion.PredictOriginalSampleVe(PredictionType, modelOutput, x,
            PredictionType == PredictionType.VPrediction ? sigma : sigmaHat);

        // 3. one Euler step of the ODE from σ̂ to σ_{i+1}
        using var derivative = (x - predOriginal) / sigmaHat;
        double dt = run.Sigmas[i + 1] - sigmaHat;
        var prevSample = x + derivative * dt;
        churned?.Dispose();

        run.Advance();
        return new SchedulerStepOutput(prevSample, predOriginal);
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson()
    {
        var json = SchedulerConfigWriter.Begin(ClassName, Options.Schedule);
        json["prediction_type"] = Options.PredictionType.ToDiffusersName();
        json["interpolation_type"] = "linear";
        json["use_karras_sigmas"] = Options.UseKarrasSigmas;
        json["sigma_min"] = Options.SigmaMin;
        json["sigma_max"] = Options.SigmaMax;
        json["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        json["timestep_type"] = "discrete";
        json["steps_offset"] = Options.StepsOffset;
        json["rescale_betas_zero_snr"] = Options.Schedule.RescaleBetasZeroSnr;
        json["final_sigmas_type"] = Options.FinalSigmas.ToDiffusersName();
        return json;
    }

    /// <inheritdoc />
    /// <remarks>Stochastic when <see cref="EulerDiscreteOptions.SChurn"/> &gt; 0.</remarks>
    public override SamplerCapabilities Capabilities => Options.SChurn > 0 ? base.Capabilities with { Stochastic = true } : base.Capabilities;

    private protected override IScheduler Rebuild(SamplerOverrides overrides) => new EulerDiscreteScheduler(Options with
    {
        UseKarrasSigmas = overrides.KarrasSigmasOr(Options.UseKarrasSigmas), TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing),
    });

    /// <summary>Euler over the basis (spacing default linspace; s_churn and friends at their defaults).</summary>
    internal static EulerDiscreteScheduler Create(SamplerBasis basis) => new(new EulerDiscreteOptions(
        basis.Schedule, basis.PredictionType, basis.KarrasSigmas,
        TimestepSpacing: basis.TimestepSpacing ?? TimestepSpacing.Linspace, StepsOffset: basis.StepsOffset));

    /// <summary>Builds the scheduler from the keys EulerDiscreteScheduler reads (s_churn and friends stay at their defaults).</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static EulerDiscreteScheduler FromConfig(SchedulerConfigReader r)
    {
        var schedule = r.NoiseSchedule();
        var finalSigmas = r.FinalSigmas(FinalSigmasType.Zero);
        var options = new EulerDiscreteOptions(
            schedule,
            r.PredictionType(PredictionType.Epsilon),
            r.Bool("use_karras_sigmas", false),
            r.NullableDouble("sigma_min"),
            r.NullableDouble("sigma_max"),
            r.TimestepSpacing(TimestepSpacing.Linspace),
            r.StepsOffset(),
            finalSigmas);
        r.RequireOff("interpolation_type", "\"linear\"", "linear");
        r.RequireOff("timestep_type", "\"discrete\"", "discrete");
        r.RequireNewerKeysOff();
        return new EulerDiscreteScheduler(options);
    }
}
