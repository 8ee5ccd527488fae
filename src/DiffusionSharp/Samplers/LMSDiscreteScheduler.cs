using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The linear multistep method on the probability-flow ODE dx/dσ = (x - D(x; σ))/σ in the VE parameterisation (Karras et
/// al. 2022; Crowson's k-diffusion <c>sample_lms</c>), compatible with diffusers' <c>LMSDiscreteScheduler</c>: one model
/// call per step; each step integrates the Lagrange polynomial through the last (up to four) derivatives over
/// [σ_i, σ_{i+1}]. Deterministic. The derivatives are kept between steps and cleared by <see cref="SetTimesteps"/>.
/// </summary>
/// <remarks>
/// Notation (variable → formula): <c>derivative</c> → d_i = (x_i - D(x_i; σ_i))/σ_i; <c>coefficient(order, i, j)</c> →
/// c_j = ∫_{σ_i}^{σ_{i+1}} Π_{k≠j} (τ - σ_{i-k})/(σ_{i-j} - σ_{i-k}) dτ, computed exactly (Gauss-Legendre is exact for
/// these polynomials; diffusers integrates numerically with a relative tolerance of 1e-4); x_{i+1} = x_i + Σ_j c_j·d_{i-j}.
/// </remarks>
public sealed class LMSDiscreteScheduler : EulerFamilyScheduler
{
    public const string ClassName = "LMSDiscreteScheduler";

    /// <summary>4-point Gauss-Legendre nodes and weights on [-1, 1]: exact for polynomials up to degree 7.</summary>
    private static readonly (double Node, double Weight)[] Gauss =
    [
        (-0.8611363115940526, 0.3478548451374538), (-0.3399810435848563, 0.6521451548625461),
        (0.3399810435848563, 0.6521451548625461), (0.8611363115940526, 0.3478548451374538),
    ];

    private readonly OutputHistory _derivatives;

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public LMSDiscreteScheduler(LMSDiscreteOptions options) : base(options)
    {
        Options = options;
        _derivatives = new OutputHistory(options.LmsOrder);
    }

    /// <summary>The options this scheduler was built with.</summary>
    public LMSDiscreteOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "lms";

    /// <summary>The coefficients c_j the last <see cref="Step"/> used, newest derivative first (as many as its order).</summary>
    public IReadOnlyList<double> LastCoefficients { get; private set; } = [];

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        var (timesteps, sigmas) = BuildSigmas(numInferenceSteps, Options.StepsOffset, Options.UseKarrasSigmas, sigmaMin: null, sigmaMax: null,
            finalSigma: 0f, float64KarrasTimesteps: true);
        _derivatives.Clear();
        LastCoefficients = [];
        StartRun(timesteps, sigmas);
    }

    /// <inheritdoc />
    public override SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        var run = Run;
        int i = run.Current(timestep, missingIsLast: false);
        float sigma = run.Sigmas[i];

        // 1. the denoised estimate D(x; σ) and the ODE's slope, kept for the next steps
        var predOriginal = ModelOutputConversion.PredictOriginalSampleVe(PredictionType, modelOutput, sample, sigma);
        using (var difference = sample - predOriginal)
            _derivatives.Add(difference / sigma);

        // 2. the linear multistep coefficients of the order the step index allows (diffusers: min(i + 1, order))
        int order = Math.Min(i + 1, Options.LmsOrder);
        var coefficients = Enumerable.Range(0, order).Select(j => Coefficient(run.Sigmas, order, i, j)).ToArray();
        LastCoefficients = coefficients;

        // 3. x_{i+1} = x_i + Σ c_j·d_{i-j}, over the derivatives there are (fewer after a mid-schedule start)
        Tensor? sum = null;
        for (int j = 0; j < Math.Min(order, _derivatives.Count); j++)
        {
            var term = _derivatives[j] * coefficients[j];
            if (sum is null) sum = term;
            else
            {
                var next = sum + term;
                sum.Dispose();
                term.Dispose();
                sum = next;
            }
        }
        var prevSample = sample + sum!;
        sum!.Dispose();
        run.Advance();
        return new SchedulerStepOutput(prevSample, predOriginal);
    }

    /// <summary>
    /// c_j: the integral over [σ_i, σ_{i+1}] of the Lagrange basis polynomial that is 1 at σ_{i-j} and 0 at the other
    /// σ_{i-k}, k &lt; order (diffusers' <c>get_lms_coefficient(order, i, j)</c>).
    /// </summary>
    public static double Coefficient(IReadOnlyList<float> sigmas, int order, int i, int j)
    {
        double a = sigmas[i], b = sigmas[i + 1], half = (b - a) / 2, mid = (a + b) / 2;
        double integral = 0;
        foreach (var (node, weight) in Gauss)
        {
            double tau = mid + half * node, product = 1;
            for (int k = 0; k < order; k++)
            {
                if (k == j) continue;
                product *= (tau - sigmas[i - k]) / ((double)sigmas[i - j] - sigmas[i - k]);
            }
            integral += weight * product;
        }
        return integral * half;
    }

    /// <inheritdoc />
    public override JsonObject ToConfigJson()
    {
        var json = SchedulerConfigWriter.Begin(ClassName, Options.Schedule);
        json["use_karras_sigmas"] = Options.UseKarrasSigmas;
        json["prediction_type"] = Options.PredictionType.ToDiffusersName();
        json["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        json["steps_offset"] = Options.StepsOffset;
        return json;
    }

    private protected override IScheduler Rebuild(SamplerOverrides overrides) => new LMSDiscreteScheduler(Options with
    {
        UseKarrasSigmas = overrides.KarrasSigmasOr(Options.UseKarrasSigmas), TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing),
    });

    /// <summary>LMS over the basis (spacing default linspace, order 4).</summary>
    internal static LMSDiscreteScheduler Create(SamplerBasis basis) => new(new LMSDiscreteOptions(
        basis.Schedule, basis.PredictionType, basis.KarrasSigmas, basis.TimestepSpacing ?? TimestepSpacing.Linspace, basis.StepsOffset));

    /// <summary>Builds the scheduler from the keys LMSDiscreteScheduler reads.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static LMSDiscreteScheduler FromConfig(SchedulerConfigReader r)
    {
        var options = new LMSDiscreteOptions(
            r.NoiseSchedule(hasZeroSnrKey: false),
            r.PredictionType(PredictionType.Epsilon),
            r.Bool("use_karras_sigmas", false),
            r.TimestepSpacing(TimestepSpacing.Linspace),
            r.StepsOffset());
        r.RequireNewerKeysOff();
        return new LMSDiscreteScheduler(options);
    }
}
