using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the multistep exponential-integrator samplers, <see cref="DPMSolverMultistepScheduler"/> and
/// <see cref="UniPCMultistepScheduler"/>, share: diffusers builds their integer timesteps and float32 sigmas the same
/// way; both step in the VP variable x_t = α_t·x_0 + σ_t·ε along λ_t = log(α_t/σ_t) from converted model outputs, keep
/// the last few of those between steps (cleared by <see cref="TimelineScheduler.SetTimesteps"/>), need no input scaling, and start
/// mid-schedule and add noise alike. Only this library derives from it.
/// </summary>
/// <remarks>
/// Notation: <c>sigma</c> → σ = sqrt((1 - ᾱ)/ᾱ), the VE noise level of the table (Karras et al. 2022); <c>AlphaT</c>,
/// <c>SigmaT</c> → α_t = 1/sqrt(σ² + 1) and σ_t = σ·α_t; <c>Lambda</c> → λ_t = log α_t - log σ_t, half the log-SNR
/// (+∞ at σ = 0).
/// </remarks>
public abstract class ExponentialIntegratorScheduler : SigmaTimelineScheduler
{
    private readonly OutputHistory _history;

    /// <param name="options">The sampler's options, validated here.</param>
    /// <param name="solverOrder">How many converted model outputs to keep.</param>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    private protected ExponentialIntegratorScheduler(ISamplerOptions options, int solverOrder) : base(options)
    {
        _history = new OutputHistory(solverOrder);
    }

    /// <inheritdoc />
    public override double InitNoiseSigma => 1.0;

    /// <summary>How many steps of this run have added to the history so far, capped at the solver order (diffusers' <c>lower_order_nums</c>).</summary>
    private protected int LowerOrderNums => _history.Steps;

    /// <inheritdoc />
    public override Tensor ScaleModelInput(Tensor sample, double timestep) => sample.alias();

    /// <summary>
    /// The forward process at the run's noise levels: α_t·x_0 + σ_t·noise with the sigma of each batch item's timestep
    /// (diffusers' <c>add_noise</c>; for image-to-image, call after <see cref="TimelineScheduler.SetTimesteps"/>).
    /// </summary>
    /// <param name="originalSamples">x_0 [B, C, H, W].</param>
    /// <param name="noise">ε, same shape.</param>
    /// <param name="timesteps">One timestep per batch item, each an element of <see cref="TimelineScheduler.Timesteps"/>.</param>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps)
    {
        using var sigma = Run.BatchSigmas(timesteps, missingIsLast: true, originalSamples);
        using var alphaT = (sigma.square() + 1).rsqrt();
        using var sigmaT = sigma * alphaT;
        return alphaT * originalSamples + sigmaT * noise;
    }

    /// <summary>
    /// diffusers' <c>set_timesteps</c> of both samplers, then a fresh history: integer timesteps for the spacing below
    /// <paramref name="lastTimestep"/>, their sigmas read from the table (or Karras sigmas and the rounded timesteps
    /// that match them), then the final sigma, 0 or σ of training timestep 0.
    /// </summary>
    /// <param name="spacing">linspace, leading or trailing.</param>
    /// <param name="lastTimestep">One past the last usable timestep: T, or fewer when DPM-Solver clips by λ.</param>
    /// <param name="numInferenceSteps">N, checked to lie in [1, T].</param>
    /// <param name="stepsOffset">Added to leading timesteps.</param>
    /// <param name="useKarras">Karras et al. 2022 noise levels between the table ends.</param>
    /// <param name="finalSigmas">Where the last step lands.</param>
    /// <exception cref="InvalidInputException">The number of steps is out of range.</exception>
    private protected void StartRun(TimestepSpacing spacing, int lastTimestep, int numInferenceSteps, int stepsOffset, bool useKarras,
        FinalSigmasType finalSigmas)
    {
        int t = SigmaTable.Length;
        if (numInferenceSteps < 1 || numInferenceSteps > t)
            throw new InvalidInputException($"number of inference steps must lie in [1, {t}] (the training timesteps), got {numInferenceSteps}");
        long[] timesteps = IntegerTimesteps(spacing, lastTimestep, t, numInferenceSteps, stepsOffset);
        double[] sigmas;
        if (useKarras)
        {
            sigmas = SigmaSchedules.Karras(SigmaTable[0], SigmaTable[^1], numInferenceSteps);
            var logSigmas = SigmaSchedules.Log(SigmaTable);
            timesteps = sigmas.Select(s => (long)Math.Round(SigmaSchedules.SigmaToT(s, logSigmas))).ToArray();
        }
        else
        {
            sigmas = timesteps.Select(ts => SigmaSchedules.Interp(ts, SigmaTable)).ToArray();
        }

        // UniPC's Karras branch takes its last Karras sigma for sigma_min, DPM-Solver σ of timestep 0: the same float32
        float sigmaLast = finalSigmas == FinalSigmasType.SigmaMin ? SigmaTable[0] : 0f;
        var allSigmas = sigmas.Select(s => (float)s).Append(sigmaLast).ToArray();
        ClearHistory();
        StartRun(timesteps.Select(v => (double)v).ToArray(), allSigmas);
    }

    /// <summary>Adds the newest converted model output to the history (which takes it over), dropping the oldest.</summary>
    private protected void Remember(Tensor output) => _history.Add(output);

    /// <summary>The converted model output <paramref name="stepsBack"/> steps before the newest one (0: the newest).</summary>
    private protected Tensor Remembered(int stepsBack) => _history[stepsBack];

    /// <summary>Ends a step: counts it towards the order the history allows and moves to the next timestep.</summary>
    private protected void EndStep()
    {
        _history.CountStep();
        Run.Advance();
    }

    /// <summary>Disposes what the last run kept; a subclass that keeps more clears it too.</summary>
    private protected virtual void ClearHistory() => _history.Clear();

    /// <summary>
    /// The config keys both samplers write first, in diffusers' order: the class, the training schedule, solver_order,
    /// prediction_type and the (unsupported, so off) thresholding keys.
    /// </summary>
    private protected JsonObject BeginConfig(string className, NoiseScheduleConfig schedule, int solverOrder)
    {
        var json = SchedulerConfigWriter.Begin(className, schedule);
        json["solver_order"] = solverOrder;
        json["prediction_type"] = PredictionType.ToDiffusersName();
        json["thresholding"] = false;
        json["dynamic_thresholding_ratio"] = 0.995;
        json["sample_max_value"] = 1.0;
        return json;
    }

    /// <summary>Reads the thresholding keys, which must leave thresholding off (their values are then unused).</summary>
    private protected static void RequireThresholdingOff(SchedulerConfigReader r)
    {
        r.RequireOff("thresholding");
        r.Double("dynamic_thresholding_ratio", 0.995);
        r.Double("sample_max_value", 1.0);
    }

    /// <summary>α_t, σ_t and λ_t of a VE noise level σ.</summary>
    private protected static (double AlphaT, double SigmaT, double Lambda) Coefficients(float sigma)
    {
        double alphaT = 1 / Math.Sqrt((double)sigma * sigma + 1);
        double sigmaT = sigma * alphaT;
        return (alphaT, sigmaT, Math.Log(alphaT) - Math.Log(sigmaT));
    }

    /// <summary>x_θ, the data prediction at noise level σ (Lu et al. 2022b, section 3.1); a fresh tensor.</summary>
    private protected static Tensor DataPrediction(PredictionType type, Tensor modelOutput, Tensor sample, float sigma)
    {
        var (alphaT, sigmaT, _) = Coefficients(sigma);
        return ModelOutputConversion.PredictOriginalSample(type, modelOutput, sample, alphaT, sigmaT);
    }

    /// <summary>
    /// DPM-Solver's integer timesteps, which differ from DDIM's: linspace and leading space N + 1 points and drop
    /// the last (0), trailing counts down from the last unclipped timestep.
    /// </summary>
    private static long[] IntegerTimesteps(TimestepSpacing spacing, int lastTimestep, int numTrainTimesteps, int n, int stepsOffset)
    {
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
                // np.linspace(0, last - 1, N + 1).round()[::-1][:-1]
                return Enumerable.Range(1, n).Reverse()
                    .Select(i => (long)Math.Round(TimestepSpacings.NumpyLinspace(0, lastTimestep - 1, n + 1, i))).ToArray();
            case TimestepSpacing.Leading:
                // (arange(0, N + 1) * (last // (N + 1)))[::-1][:-1] + steps_offset
                int ratio = lastTimestep / (n + 1);
                return Enumerable.Range(1, n).Reverse().Select(i => (long)i * ratio + stepsOffset).ToArray();
            case TimestepSpacing.Trailing:
                // np.arange(last, 0, -T/N).round() - 1
                double step = (double)numTrainTimesteps / n;
                int count = (int)Math.Ceiling(lastTimestep / step);
                return Enumerable.Range(0, count).Select(i => (long)Math.Round(lastTimestep - i * step) - 1).ToArray();
            default:
                throw new ArgumentOutOfRangeException(nameof(spacing));
        }
    }
}
