using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Pseudo numerical methods for diffusion models (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models on
/// Manifolds"), compatible with diffusers' <c>PNDMScheduler</c>: a pseudo Runge-Kutta warm-up (PRK: three steps of four
/// model calls each, at half steps), then the pseudo linear multistep method (PLMS: fourth-order Adams-Bashforth on
/// the noise predictions, one call per step). With <c>skip_prk_steps</c> the warm-up is replaced by lower-order PLMS
/// steps (the PLMS sampler of latent diffusion). The loop visits more timesteps than N: N + 9 with PRK, N + 1 without.
/// </summary>
/// <remarks>
/// Notation (variable → paper, eq. 9 and algorithm 2): <c>alphaProdT</c>, <c>alphaProdTPrev</c> → ᾱ_t, ᾱ_(t-δ);
/// <c>betaProdT</c> → 1 - ᾱ_t; <c>_ets</c> → e_(t), e_(t+δ), ... the stored noise predictions;
/// <c>_curModelOutput</c> → the running RK combination e'_t = (e_1 + 2e_2 + 2e_3 + e_4)/6.
/// </remarks>
public sealed class PNDMScheduler : IScheduler
{
    public const string ClassName = "PNDMScheduler";
    private const int PndmOrder = 4;

    private readonly List<Tensor> _ets = [];
    private long[] _prkTimesteps = [];
    private long[] _plmsTimesteps = [];
    private double[]? _timesteps;
    private int _numInferenceSteps;
    private int _counter;
    private Tensor? _curModelOutput;
    private Tensor? _curSample;

    /// <summary>Creates the scheduler; call <see cref="SetTimesteps"/> before sampling.</summary>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public PNDMScheduler(PNDMOptions options)
    {
        options.Validate();
        Options = options;
        Schedule = NoiseSchedule.Create(options.Schedule);
    }

    /// <summary>The options this scheduler was built with.</summary>
    public PNDMOptions Options { get; }

    /// <inheritdoc />
    public string Name => "pndm";

    /// <inheritdoc />
    public NoiseSchedule Schedule { get; }

    /// <inheritdoc />
    public PredictionType PredictionType => Options.PredictionType;

    /// <summary>The PRK timesteps followed by the PLMS timesteps (integers, with repeats).</summary>
    public IReadOnlyList<double> Timesteps => _timesteps ?? throw new InvalidOperationException("call SetTimesteps before sampling");

    /// <summary>The Runge-Kutta warm-up timesteps (empty with skip_prk_steps).</summary>
    public IReadOnlyList<long> PrkTimesteps => _prkTimesteps;

    /// <summary>The linear multistep timesteps.</summary>
    public IReadOnlyList<long> PlmsTimesteps => _plmsTimesteps;

    /// <inheritdoc />
    public double InitNoiseSigma => 1.0;

    /// <inheritdoc />
    public void SetTimesteps(int numInferenceSteps)
    {
        int t = Schedule.NumTrainTimesteps;
        if (!Options.SkipPrkSteps && numInferenceSteps < PndmOrder)
            throw new InvalidInputException($"PNDM with Runge-Kutta warm-up needs at least {PndmOrder} inference steps (got {numInferenceSteps}); use more steps or skip_prk_steps");
        var ascending = TimestepSpacings.Integer(Options.TimestepSpacing, t, numInferenceSteps, Options.StepsOffset).Reverse().ToArray();

        if (Options.SkipPrkSteps)
        {
            // PLMS only: the second-to-last timestep is repeated for the two-call first step
            _prkTimesteps = [];
            var plms = ascending[..^1].ToList();
            if (ascending.Length >= 2) plms.Add(ascending[^2]);
            plms.Add(ascending[^1]);
            plms.Reverse();
            _plmsTimesteps = plms.ToArray();
        }
        else
        {
            // the last four timesteps, each with its half step, each visited twice except the ends
            long half = t / numInferenceSteps / 2;
            var pairs = ascending[^PndmOrder..].SelectMany(v => new[] { v, v + half }).ToArray();
            var repeated = pairs[..^1].SelectMany(v => new[] { v, v }).ToArray();
            _prkTimesteps = repeated[1..^1].Reverse().ToArray();
            _plmsTimesteps = ascending[..^3].Reverse().ToArray();
        }
        _timesteps = _prkTimesteps.Concat(_plmsTimesteps).Select(v => (double)v).ToArray();
        _numInferenceSteps = numInferenceSteps;
        ClearState();
    }

    /// <inheritdoc />
    public Tensor ScaleModelInput(Tensor sample, double timestep) => sample.alias();

    /// <inheritdoc />
    public SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null)
    {
        if (_timesteps is null) throw new InvalidOperationException("call SetTimesteps before sampling");
        var prev = _counter < _prkTimesteps.Length && !Options.SkipPrkSteps
            ? StepPrk(modelOutput, (long)timestep, sample)
            : StepPlms(modelOutput, (long)timestep, sample);
        return new SchedulerStepOutput(prev, null);
    }

    /// <summary>One call of the pseudo Runge-Kutta warm-up: four calls make one full step (Liu et al. 2022, eq. 13).</summary>
    private Tensor StepPrk(Tensor modelOutput, long timestep, Tensor sample)
    {
        long halfStep = Schedule.NumTrainTimesteps / _numInferenceSteps / 2;
        // 1. calls 0 and 2 of a group go half a step, calls 1 and 3 the whole step, all from the group's start
        long prevTimestep = timestep - (_counter % 2 == 1 ? 0 : halfStep);
        long groupTimestep = _prkTimesteps[_counter / 4 * 4];

        // 2. accumulate e' = (e_1 + 2e_2 + 2e_3 + e_4)/6; the first call also starts a group
        Tensor? combined = null;
        switch (_counter % 4)
        {
            case 0:
                ReplaceCurModelOutput(modelOutput * (1.0 / 6));
                _ets.Add(modelOutput.clone().DetachFromDisposeScope());
                _curSample?.Dispose();
                _curSample = sample.clone().DetachFromDisposeScope();
                break;
            case 1:
            case 2:
                using (var third = modelOutput * (1.0 / 3)) ReplaceCurModelOutput(_curModelOutput! + third);
                break;
            default:
                using (var sixth = modelOutput * (1.0 / 6)) combined = _curModelOutput! + sixth;
                _curModelOutput!.Dispose();
                _curModelOutput = null;
                break;
        }

        // 3. the transfer step of eq. 9 from the group's starting sample
        var prev = PrevSample(_curSample ?? sample, groupTimestep, prevTimestep, combined ?? modelOutput);
        combined?.Dispose();
        _counter++;
        return prev;
    }

    /// <summary>One pseudo linear multistep call (Liu et al. 2022, eq. 12), lower order while fewer predictions are stored.</summary>
    private Tensor StepPlms(Tensor modelOutput, long timestep, Tensor sample)
    {
        if (!Options.SkipPrkSteps && _ets.Count < 3)
            throw new InvalidOperationException("PNDM's linear multistep phase needs the Runge-Kutta warm-up first; run the timesteps in order from SetTimesteps");
        long ratio = Schedule.NumTrainTimesteps / _numInferenceSteps;
        long prevTimestep = timestep - ratio;

        // 1. store e_t; the second call of a skip-PRK start re-evaluates the first step instead (Heun-like average)
        if (_counter != 1)
        {
            while (_ets.Count > 3)
            {
                _ets[0].Dispose();
                _ets.RemoveAt(0);
            }
            _ets.Add(modelOutput.clone().DetachFromDisposeScope());
        }
        else
        {
            prevTimestep = timestep;
            timestep += ratio;
        }

        // 2. the Adams-Bashforth combination of the stored noise predictions
        Tensor? ownedSample = null;
        Tensor eps;
        if (_ets.Count == 1 && _counter == 0)
        {
            eps = modelOutput.alias();
            _curSample?.Dispose();
            _curSample = sample.clone().DetachFromDisposeScope();
        }
        else if (_ets.Count == 1 && _counter == 1)
        {
            eps = (modelOutput + _ets[^1]) / 2;
            ownedSample = _curSample;
            sample = ownedSample!;
            _curSample = null;
        }
        else if (_ets.Count == 2)
        {
            eps = (3 * _ets[^1] - _ets[^2]) / 2;
        }
        else if (_ets.Count == 3)
        {
            eps = (23 * _ets[^1] - 16 * _ets[^2] + 5 * _ets[^3]) / 12;
        }
        else
        {
            eps = (1.0 / 24) * (55 * _ets[^1] - 59 * _ets[^2] + 37 * _ets[^3] - 9 * _ets[^4]);
        }

        var prev = PrevSample(sample, timestep, prevTimestep, eps);
        eps.Dispose();
        ownedSample?.Dispose();
        _counter++;
        return prev;
    }

    /// <summary>
    /// x_(t-δ) from x_t and a noise prediction, Liu et al. 2022, eq. 9 (the transfer part φ shared by PRK and PLMS):
    /// x_(t-δ) = sqrt(ᾱ_(t-δ)/ᾱ_t)·x_t - (ᾱ_(t-δ) - ᾱ_t)·e / (ᾱ_t·sqrt(1 - ᾱ_(t-δ)) + sqrt(ᾱ_t(1 - ᾱ_t)ᾱ_(t-δ))).
    /// </summary>
    private Tensor PrevSample(Tensor sample, long timestep, long prevTimestep, Tensor modelOutput)
    {
        double alphaProdT = Schedule.AlphaBar((int)timestep);
        double alphaProdTPrev = prevTimestep >= 0 ? Schedule.AlphaBar((int)prevTimestep) : Schedule.FinalAlphaCumprod(Options.SetAlphaToOne);
        double betaProdT = 1 - alphaProdT, betaProdTPrev = 1 - alphaProdTPrev;

        Tensor? converted = null;
        if (PredictionType == PredictionType.VPrediction)
        {
            // ε = sqrt(ᾱ_t)·v + sqrt(1 - ᾱ_t)·x_t
            converted = modelOutput * Math.Sqrt(alphaProdT) + sample * Math.Sqrt(betaProdT);
            modelOutput = converted;
        }

        double sampleCoeff = Math.Sqrt(alphaProdTPrev / alphaProdT);
        double denominator = alphaProdT * Math.Sqrt(betaProdTPrev) + Math.Sqrt(alphaProdT * betaProdT * alphaProdTPrev);
        using var scaled = sample * sampleCoeff;
        var result = scaled - modelOutput * ((alphaProdTPrev - alphaProdT) / denominator);
        converted?.Dispose();
        return result;
    }

    /// <inheritdoc />
    public JsonObject ToConfigJson()
    {
        var json = SchedulerConfigWriter.Begin(ClassName, Options.Schedule);
        json["skip_prk_steps"] = Options.SkipPrkSteps;
        json["set_alpha_to_one"] = Options.SetAlphaToOne;
        json["prediction_type"] = Options.PredictionType.ToDiffusersName();
        json["timestep_spacing"] = Options.TimestepSpacing.ToDiffusersName();
        json["steps_offset"] = Options.StepsOffset;
        return json;
    }

    /// <inheritdoc />
    public SamplerCapabilities Capabilities => SamplerCatalog.Get(Name).Capabilities;

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">An index past 0: the Runge-Kutta warm-up cannot start mid-schedule.</exception>
    public void SetBeginIndex(int beginIndex)
    {
        if (beginIndex != 0) throw new NotSupportedException($"{Name} cannot start at timestep index {beginIndex}: {Capabilities.CannotEditReason}");
    }

    /// <inheritdoc />
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps) =>
        IntegerTimesteps.AddNoise(Schedule, originalSamples, noise, timesteps);

    /// <inheritdoc />
    public double PreviousTimestep(int index)
    {
        var timesteps = Timesteps;
        if (index < 0 || index >= timesteps.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"expected an index of the {timesteps.Count} timesteps");
        return index + 1 < timesteps.Count ? timesteps[index + 1] : -1;
    }

    /// <inheritdoc />
    public IScheduler With(SamplerOverrides overrides)
    {
        overrides.CheckFor(Name, Capabilities);
        return new PNDMScheduler(Options with { TimestepSpacing = overrides.TimestepSpacingOr(Options.TimestepSpacing) });
    }

    /// <summary>PNDM with the Runge-Kutta warm-up over the basis (spacing default leading).</summary>
    internal static PNDMScheduler Create(SamplerBasis basis) => new(new PNDMOptions(
        basis.Schedule, SkipPrkSteps: false, PredictionType: basis.PredictionType,
        TimestepSpacing: basis.TimestepSpacing ?? TimestepSpacing.Leading, StepsOffset: basis.StepsOffset));

    /// <summary>Builds the scheduler from the keys PNDMScheduler reads.</summary>
    /// <exception cref="InvalidInputException">An option is unsupported or out of range.</exception>
    internal static PNDMScheduler FromConfig(SchedulerConfigReader r) => new(new PNDMOptions(
        r.NoiseSchedule(new NoiseScheduleConfig(), hasZeroSnrKey: false),
        r.Bool("skip_prk_steps", false),
        r.Bool("set_alpha_to_one", false),
        r.PredictionType(PredictionType.Epsilon),
        r.TimestepSpacing(TimestepSpacing.Leading),
        r.StepsOffset()));

    private void ReplaceCurModelOutput(Tensor value)
    {
        _curModelOutput?.Dispose();
        _curModelOutput = value.DetachFromDisposeScope();
    }

    private void ClearState()
    {
        foreach (var e in _ets) e.Dispose();
        _ets.Clear();
        _curModelOutput?.Dispose();
        _curModelOutput = null;
        _curSample?.Dispose();
        _curSample = null;
        _counter = 0;
    }
}
