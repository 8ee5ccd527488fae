using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of Diffusion Models"),
/// compatible with diffusers' <c>UniPCMultistepScheduler</c>: same config keys and defaults, timesteps and sigmas
/// (those of DPM-Solver++), and step arithmetic. One model call per step: each step first corrects the previous
/// step's result with the new model output (UniC, which raises the order by one at no extra model call), then
/// predicts the next sample from the corrected one (UniP, a multistep exponential integrator). The last few
/// converted model outputs and the last corrected sample are kept between steps and cleared by <see cref="SetTimesteps"/>.
/// </summary>
/// <remarks>
/// Notation (variable → paper, section 3, in the B(h) form):
/// <list type="bullet">
/// <item><c>alphaT</c>, <c>sigmaT</c>, <c>lambda</c> → α_t, σ_t, λ_t = log(α_t/σ_t); <c>h</c> → h_i = λ_t - λ_s</item>
/// <item><c>hh</c> → the signed step: -h for the data prediction (predict_x0), h for the noise prediction</item>
/// <item><c>hPhi1</c> → hh·φ_1(hh) = e^hh - 1, with φ_{k+1}(x) = (φ_k(x) - 1/k!)/x; <c>bH</c> → B(h) = hh (bh1) or e^hh - 1 (bh2)</item>
/// <item><c>m0</c>, <c>m_k</c> → the converted model output at the source timestep and k steps before it</item>
/// <item><c>r_k</c> → r_k = (λ_{s_k} - λ_s)/h; D_k = (m_k - m0)/r_k, the divided differences</item>
/// <item><c>rhos</c> → the weights a of the D_k, from R·a = b with R_ik = r_k^(i-1) and b_i = i!·hh·φ_{i+1}(hh)/B(h):
/// p - 1 rows for the predictor UniP-p, p for the corrector UniC-p (whose last r is 1, the new output); fixed at 1/2
/// for UniP-2 and UniC-1 as in diffusers</item>
/// </list>
/// One deliberate difference: when a step lands on σ = 0 (final_sigmas_type "zero") it is first order, as
/// DPM-Solver++ does; diffusers then only differs with <c>lower_order_final = false</c>, where its higher-order
/// terms divide by h = ∞ and its result is not finite. With the noise prediction (predict_x0 false) the landing on
/// σ = 0 uses the limit σ_t·(e^h - 1) → α_t·σ_s/α_s, where diffusers computes 0·∞.
/// </remarks>
public sealed class UniPCMultistepScheduler : ExponentialIntegratorScheduler
{
    public const string ClassName = "UniPCMultistepScheduler";

    private readonly IReadOnlyList<int> _disableCorrector;
    private Tensor? _lastSample;
    private int _thisOrder;

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public UniPCMultistepScheduler(UniPCMultistepOptions options)
        : base(options, options.SolverOrder)
    {
        Options = options;
        _disableCorrector = options.DisableCorrector ?? [];
    }

    /// <summary>The options this scheduler was built with.</summary>
    public UniPCMultistepOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "unipc";

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps) => StartRun(Options.TimestepSpacing, Schedule.NumTrainTimesteps,
        numInferenceSteps, Options.StepsOffset, Options.UseKarrasSigmas, Options.FinalSigmas);

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, missingIsLast: true);
        int n = run.Timesteps.Length;

        // 1. the model output as the solver integrates it, converted from the sample as given (before correction)
        var (alphaS, sigmaS, _) = Coefficients(run.Sigmas[i]);
        var converted = Convert(modelOutput, sample, run.Sigmas[i], alphaS, sigmaS);
        var predOriginal = Options.PredictX0
            ? converted.clone()
            : ModelOutputConversion.PredictOriginalSample(PredictionType, modelOutput, sample, alphaS, sigmaS);

        // 2. UniC: redo the previous step from the same start with this model output, at the previous step's order
        Tensor? corrected = null;
        if (i > 0 && _lastSample is not null && !_disableCorrector.Contains(i - 1))
            corrected = Update(_lastSample, run.Sigmas[i], i - 1, _thisOrder, converted);

        // 3. the history of converted outputs, newest last
        Remember(converted);

        // 4. UniP: the order the history allows, lowered towards the end; first order onto σ = 0
        int order = Options.LowerOrderFinal ? Math.Min(Options.SolverOrder, n - i) : Options.SolverOrder;
        if (run.Sigmas[i + 1] == 0f) order = 1;
        _thisOrder = Math.Min(order, LowerOrderNums + 1);
        var x = corrected ?? sample;
        var prevSample = Update(x, run.Sigmas[i + 1], i, _thisOrder, null);

        // 5. the start of this step, for the next step's corrector
        _lastSample?.Dispose();
        _lastSample = (corrected ?? sample.clone()).DetachFromDisposeScope();

        EndStep();
        return new SchedulerStepOutput(prevSample, predOriginal);
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson()
    {
        var json = BeginConfig(ClassName, Options.Schedule, Options.SolverOrder);
        json["predict_x0"] = Options.PredictX0;
        json["solver_type"] = Options.SolverType == UniPCSolverType.Bh1 ? "bh1" : "bh2";
        json["lower_order_final"] = Options.LowerOrderFinal;
        json["disable_corrector"] = new JsonArray(_disableCorrector.Select(k => (JsonNode?)JsonValue.Create(k)).ToArray());
        json["solver_p"] = null;
        json["use_karras_sigmas"] = Options.UseKarrasSigmas;
        json["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        json["steps_offset"] = Options.StepsOffset;
        json["final_sigmas_type"] = Options.FinalSigmas.ToDiffusersName();
        json["rescale_betas_zero_snr"] = Options.Schedule.RescaleBetasZeroSnr;
        return json;
    }

    private protected override IScheduler Rebuild(SamplerOverrides overrides) => new UniPCMultistepScheduler(Options with
    {
        UseKarrasSigmas = overrides.KarrasSigmasOr(Options.UseKarrasSigmas), TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing),
    });

    /// <summary>UniPC-2 (bh2) over the basis (spacing default linspace).</summary>
    internal static UniPCMultistepScheduler Create(SamplerBasis basis) => new(new UniPCMultistepOptions(
        basis.Schedule, basis.PredictionType, UseKarrasSigmas: basis.KarrasSigmas,
        TimestepSpacing: basis.TimestepSpacing ?? TimestepSpacing.Linspace, StepsOffset: basis.StepsOffset));

    /// <summary>Builds the scheduler from the keys UniPCMultistepScheduler reads, with diffusers' defaults for missing ones.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static UniPCMultistepScheduler FromConfig(SchedulerConfigReader r)
    {
        var schedule = r.NoiseSchedule();
        var solverType = r.String("solver_type", "bh2") switch
        {
            "bh1" => UniPCSolverType.Bh1,
            // diffusers replaces DPM-Solver's and DEIS's solver types by bh2
            "bh2" or "midpoint" or "heun" or "logrho" => UniPCSolverType.Bh2,
            var other => throw r.Invalid($"solver_type '{other}' is not supported (expected bh1 or bh2)"),
        };
        var options = new UniPCMultistepOptions(
            schedule,
            r.PredictionType(PredictionType.Epsilon),
            r.Int("solver_order", 2),
            r.Bool("predict_x0", true),
            solverType,
            r.Bool("lower_order_final", true),
            r.IntList("disable_corrector"),
            r.Bool("use_karras_sigmas", false),
            r.TimestepSpacing(TimestepSpacing.Linspace),
            r.StepsOffset(),
            r.FinalSigmas(FinalSigmasType.Zero));
        RequireThresholdingOff(r);
        r.RequireOff("solver_p", "null");
        r.RequireNewerKeysOff();
        return new UniPCMultistepScheduler(options);
    }

    /// <summary>x_θ (predict_x0) or ε_θ at noise level σ, a fresh tensor.</summary>
    private Tensor Convert(Tensor modelOutput, Tensor sample, float sigma, double alphaT, double sigmaT)
    {
        if (Options.PredictX0) return DataPrediction(PredictionType, modelOutput, sample, sigma);
        if (PredictionType == PredictionType.Epsilon) return modelOutput.clone();
        // ε = (x_t - α_t·x_0)/σ_t for sample, α_t·v + σ_t·x_t for v_prediction
        return ModelOutputConversion.PredictEpsilon(PredictionType, modelOutput, sample, modelOutput, alphaT, sigmaT);
    }

    /// <summary>
    /// One UniP step (<paramref name="modelAtTarget"/> null) or UniC step of order <paramref name="order"/> from the
    /// sample <paramref name="x"/> at timestep index <paramref name="source"/> to noise level <paramref name="sigmaTarget"/>,
    /// with the history m0 = the output at <paramref name="source"/>, m_k = the output k steps before it.
    /// </summary>
    private Tensor Update(Tensor x, float sigmaTarget, int source, int order, Tensor? modelAtTarget)
    {
        var sigmas = Run.Sigmas;
        var (alphaT, sigmaT, lambdaT) = Coefficients(sigmaTarget);
        var (alphaS0, sigmaS0, lambdaS0) = Coefficients(sigmas[source]);
        double h = lambdaT - lambdaS0;
        bool dataPrediction = Options.PredictX0;
        double hh = dataPrediction ? -h : h;
        double hPhi1 = ExpM1(hh);

        // x_t = (σ_t/σ_s)·x - α_t·hφ_1·m0 (data) or (α_t/α_s)·x - σ_t·hφ_1·m0 (noise): DPM-Solver(++)-1, i.e. DDIM
        double outScale = dataPrediction ? alphaT : sigmaT;
        double m0Weight = dataPrediction || sigmaT > 0 ? -outScale * hPhi1 : -alphaT * sigmaS0 / alphaS0;
        Tensor m0 = Remembered(0);
        var result = x * (dataPrediction ? sigmaT / sigmaS0 : alphaT / alphaS0);
        bool corrector = modelAtTarget is not null;
        if (order == 1 && !corrector)
        {
            result.add_(m0, m0Weight);
            return result;
        }

        // the higher-order terms -(α_t or σ_t)·B(h)·(Σ_k ρ_k·D_k [+ ρ_p·(m_t - m0)]), with D_k = (m_k - m0)/r_k
        // expanded into one weight per stored output
        var ratios = new double[order];
        for (int k = 1; k < order; k++)
            ratios[k - 1] = (Coefficients(sigmas[source - k]).Lambda - lambdaS0) / h;
        ratios[order - 1] = 1.0;
        double bH = Options.SolverType == UniPCSolverType.Bh1 ? hh : ExpM1(hh);
        double[] rhos = Rhos(ratios, hh, hPhi1, bH, corrector ? order : order - 1);
        double bScale = -outScale * bH;
        for (int k = 1; k < order; k++)
        {
            double w = bScale * rhos[k - 1] / ratios[k - 1];
            result.add_(Remembered(k), w);
            m0Weight -= w;
        }
        if (corrector)
        {
            double w = bScale * rhos[order - 1];
            result.add_(modelAtTarget!, w);
            m0Weight -= w;
        }
        result.add_(m0, m0Weight);
        return result;
    }

    /// <summary>
    /// The weights ρ of the divided differences: the solution of the first <paramref name="size"/> rows and columns of
    /// R·ρ = b with R[j][k] = r_k^j and b_j = (j + 1)!·hh·φ_{j+2}(hh)/B(h) (0-based), except for size 1 (UniP-2 and
    /// UniC-1), which diffusers fixes at ρ = 1/2.
    /// </summary>
    private static double[] Rhos(double[] ratios, double hh, double hPhi1, double bH, int size)
    {
        if (size == 1) return [0.5];
        var matrix = new double[size, size];
        var b = new double[size];
        double hPhiK = hPhi1 / hh - 1, factorial = 1;
        for (int j = 0; j < size; j++)
        {
            for (int k = 0; k < size; k++) matrix[j, k] = Math.Pow(ratios[k], j);
            b[j] = hPhiK * factorial / bH;
            factorial *= j + 2;
            hPhiK = hPhiK / hh - 1 / factorial;
        }
        return Solve(matrix, b);
    }

    /// <summary>Gaussian elimination with partial pivoting for the small (order × order) systems of <see cref="Rhos"/>.</summary>
    private static double[] Solve(double[,] matrix, double[] b)
    {
        int n = b.Length;
        for (int c = 0; c < n; c++)
        {
            int pivot = c;
            for (int r = c + 1; r < n; r++)
                if (Math.Abs(matrix[r, c]) > Math.Abs(matrix[pivot, c])) pivot = r;
            if (pivot != c)
            {
                for (int k = 0; k < n; k++) (matrix[c, k], matrix[pivot, k]) = (matrix[pivot, k], matrix[c, k]);
                (b[c], b[pivot]) = (b[pivot], b[c]);
            }
            for (int r = c + 1; r < n; r++)
            {
                double f = matrix[r, c] / matrix[c, c];
                for (int k = c; k < n; k++) matrix[r, k] -= f * matrix[c, k];
                b[r] -= f * b[c];
            }
        }
        var x = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double s = b[r];
            for (int k = r + 1; k < n; k++) s -= matrix[r, k] * x[k];
            x[r] = s / matrix[r, r];
        }
        return x;
    }

    /// <summary>e^x - 1 without the cancellation of Math.Exp(x) - 1 for small x (Kahan's method); -1 at -∞, ∞ at ∞.</summary>
    private static double ExpM1(double x)
    {
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0 || double.IsPositiveInfinity(u)) return um1;
        return um1 * x / Math.Log(u);
    }

    private protected override void ClearHistory()
    {
        base.ClearHistory();
        _lastSample?.Dispose();
        _lastSample = null;
        _thisOrder = 0;
    }
}
