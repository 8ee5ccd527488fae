using System.Text.Json.Serialization;

namespace DiffusionSharp.Training;

/// <summary>
/// The training objective and its knobs, recorded in the run's <c>state.json</c> (<see cref="TrainingOptions.Formulation"/>)
/// so that a resumed run trains the same one. Each knob belongs to one formulation: null means "not set" (the
/// formulation's default, see <see cref="WithDefaults"/>), and a knob set for another formulation is an error
/// (<see cref="Validate"/>). Defaults follow the papers and diffusers' training scripts.
/// </summary>
public sealed record FormulationOptions
{
    /// <summary>ddpm (discrete VP diffusion), flow (rectified flow) or edm (Karras et al. 2022).</summary>
    public FormulationKind Kind { get; init; } = FormulationKind.Ddpm;

    /// <summary>
    /// ddpm: P2 weighting (Choi et al. 2022), each sample's epsilon-loss weighted by (k + SNR(t))^-γ with this γ (1 in
    /// the paper; 0.5 is gentler); null = off. With x_0 or v targets the weight is carried over to the same objective.
    /// </summary>
    public double? P2Gamma { get; init; }

    /// <summary>ddpm: P2's k, which keeps the weight finite at SNR 0 (1 in the paper).</summary>
    public double? P2K { get; init; }

    /// <summary>flow: how σ is drawn (diffusers' <c>weighting_scheme</c> of the SD3 scripts); logit_normal by default, SD3's best.</summary>
    public SigmaDensity? Density { get; init; }

    /// <summary>flow, logit_normal: the mean m of the normal whose sigmoid is σ (SD3: 0).</summary>
    public double? LogitMean { get; init; }

    /// <summary>flow, logit_normal: its standard deviation s &gt; 0 (SD3: 1).</summary>
    public double? LogitStd { get; init; }

    /// <summary>flow, mode: the scale of the mode density (diffusers' default 1.29).</summary>
    public double? ModeScale { get; init; }

    /// <summary>
    /// flow: the shift s of the training sigmas, σ' = s·σ/(1 + (s - 1)·σ) (SD3 uses 3 at 1024²; 1 = none, right for
    /// 28×28); written to the pipeline's <c>scheduler_config.json</c> so sampling shifts the same way.
    /// </summary>
    public double? Shift { get; init; }

    /// <summary>flow: the loss weighting w(σ): none, sigma_sqrt (σ^-2) or cosmap (2/(π(1 - 2σ + 2σ²))).</summary>
    public FlowWeighting? FlowWeighting { get; init; }

    /// <summary>
    /// flow: regress x_0 through D = x_σ - σ·v instead of the velocity itself (diffusers' SD3 <c>precondition_outputs</c>);
    /// the network still predicts the velocity, the loss is weighted by σ².
    /// </summary>
    public bool? PreconditionOutputs { get; init; }

    /// <summary>edm: the mean of ln σ during training (P_mean; the paper's -1.2).</summary>
    public double? PMean { get; init; }

    /// <summary>edm: the standard deviation of ln σ during training (P_std; the paper's 1.2).</summary>
    public double? PStd { get; init; }

    /// <summary>edm: the data's standard deviation σ_data the preconditioning assumes (the paper's 0.5, for data in [-1, 1]).</summary>
    public double? SigmaData { get; init; }

    /// <summary>The same options with every knob of <see cref="Kind"/> that is not set given its default (what a run records).</summary>
    public FormulationOptions WithDefaults() => Kind switch
    {
        FormulationKind.Ddpm => this with { P2K = P2Gamma is null ? P2K : P2K ?? 1.0 },
        FormulationKind.Flow => this with
        {
            Density = Density ?? SigmaDensity.LogitNormal,
            LogitMean = (Density ?? SigmaDensity.LogitNormal) == SigmaDensity.LogitNormal ? LogitMean ?? 0.0 : LogitMean,
            LogitStd = (Density ?? SigmaDensity.LogitNormal) == SigmaDensity.LogitNormal ? LogitStd ?? 1.0 : LogitStd,
            ModeScale = Density == SigmaDensity.Mode ? ModeScale ?? 1.29 : ModeScale,
            Shift = Shift ?? 1.0,
            FlowWeighting = FlowWeighting ?? Training.FlowWeighting.None,
            PreconditionOutputs = PreconditionOutputs ?? false,
        },
        FormulationKind.Edm => this with { PMean = PMean ?? -1.2, PStd = PStd ?? 1.2, SigmaData = SigmaData ?? 0.5 },
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };

    /// <summary>The prediction type a network of <see cref="Kind"/> has unless told otherwise: epsilon, or the velocity for flow.</summary>
    [JsonIgnore]
    public PredictionType DefaultPredictionType => Kind == FormulationKind.Flow ? PredictionType.FlowPrediction : PredictionType.Epsilon;

    /// <summary>The prediction types a network of <see cref="Kind"/> can be trained for.</summary>
    [JsonIgnore]
    public IReadOnlyList<PredictionType> PredictionTypes => Kind switch
    {
        FormulationKind.Ddpm => [PredictionType.Epsilon, PredictionType.Sample, PredictionType.VPrediction],
        FormulationKind.Flow => [PredictionType.FlowPrediction],
        _ => [PredictionType.Epsilon, PredictionType.VPrediction],
    };

    /// <summary>
    /// Checks every knob: in range, and set only for its own formulation (and the density it belongs to); errors name the
    /// property (<see cref="InvalidInputException.Property"/>) and the accepted values.
    /// </summary>
    /// <exception cref="InvalidInputException">A value is out of range or belongs to another formulation.</exception>
    public void Validate()
    {
        if (!FormulationKinds.All.Contains(Kind)) throw InvalidInputException.For<FormulationOptions>(nameof(Kind), $": unknown formulation {(int)Kind}");
        OnlyFor(FormulationKind.Ddpm, (nameof(P2Gamma), P2Gamma), (nameof(P2K), P2K));
        OnlyFor(FormulationKind.Flow, (nameof(Density), Density), (nameof(LogitMean), LogitMean), (nameof(LogitStd), LogitStd),
            (nameof(ModeScale), ModeScale), (nameof(Shift), Shift), (nameof(FlowWeighting), FlowWeighting), (nameof(PreconditionOutputs), PreconditionOutputs));
        OnlyFor(FormulationKind.Edm, (nameof(PMean), PMean), (nameof(PStd), PStd), (nameof(SigmaData), SigmaData));

        Positive(nameof(P2Gamma), P2Gamma);
        Positive(nameof(P2K), P2K);
        if (P2K is not null && P2Gamma is null)
            throw new InvalidInputException("P2K is P2's k and needs P2Gamma, which turns P2 weighting on", $"{nameof(FormulationOptions)}.{nameof(P2K)}",
                $"{nameof(FormulationOptions)}.{nameof(P2Gamma)}");

        var density = Density ?? SigmaDensity.LogitNormal;
        if (Density is { } d && !Enum.IsDefined(d)) throw InvalidInputException.For<FormulationOptions>(nameof(Density), $": unknown density {(int)d} (expected uniform, logit_normal or mode)");
        if (density != SigmaDensity.LogitNormal && (LogitMean is not null || LogitStd is not null))
            throw InvalidInputException.For<FormulationOptions>(LogitMean is not null ? nameof(LogitMean) : nameof(LogitStd),
                $" applies to the logit_normal density only (got density {SigmaDensities.ToName(density)})");
        if (density != SigmaDensity.Mode && ModeScale is not null)
            throw InvalidInputException.For<FormulationOptions>(nameof(ModeScale), $" applies to the mode density only (got density {SigmaDensities.ToName(density)})");
        Finite(nameof(LogitMean), LogitMean);
        Positive(nameof(LogitStd), LogitStd);
        Finite(nameof(ModeScale), ModeScale);
        Positive(nameof(Shift), Shift);

        Finite(nameof(PMean), PMean);
        Positive(nameof(PStd), PStd);
        Positive(nameof(SigmaData), SigmaData);
    }

    /// <summary>The knobs of <paramref name="owner"/> must stay unset under another formulation.</summary>
    private void OnlyFor(FormulationKind owner, params (string Name, object? Value)[] knobs)
    {
        if (Kind == owner) return;
        foreach (var (name, value) in knobs)
            if (value is not null)
                throw InvalidInputException.For<FormulationOptions>(name,
                    $" applies to the {owner.ToName()} formulation only (got formulation {Kind.ToName()})");
    }

    private static void Positive(string name, double? value)
    {
        if (value is { } v && !(v > 0 && double.IsFinite(v)))
            throw InvalidInputException.For<FormulationOptions>(name, $" must be a positive number (got {v})");
    }

    private static void Finite(string name, double? value)
    {
        if (value is { } v && !double.IsFinite(v))
            throw InvalidInputException.For<FormulationOptions>(name, $" must be a finite number (got {v})");
    }
}

/// <summary>How flow matching draws σ during training (diffusers' <c>compute_density_for_timestep_sampling</c>).</summary>
public enum SigmaDensity
{
    /// <summary><c>uniform</c>: u ~ U(0, 1).</summary>
    Uniform,

    /// <summary><c>logit_normal</c>: u = sigmoid(n), n ~ N(m, s²) (SD3, rf/lognorm(0.00, 1.00), its best).</summary>
    LogitNormal,

    /// <summary><c>mode</c>: u = 1 - v - scale·(cos²(πv/2) - 1 + v), v ~ U(0, 1) (SD3's mode sampling with heavy tails).</summary>
    Mode,
}

/// <summary>Names of <see cref="SigmaDensity"/>, as diffusers' scripts spell them.</summary>
public static class SigmaDensities
{
    /// <summary>Every density.</summary>
    public static IReadOnlyList<SigmaDensity> All { get; } = Enum.GetValues<SigmaDensity>();

    /// <summary>uniform, logit_normal or mode.</summary>
    public static string ToName(this SigmaDensity density) => density switch
    {
        SigmaDensity.Uniform => "uniform",
        SigmaDensity.LogitNormal => "logit_normal",
        SigmaDensity.Mode => "mode",
        _ => throw new ArgumentOutOfRangeException(nameof(density)),
    };

    /// <summary>Parses a name; the error names <paramref name="property"/>.</summary>
    /// <exception cref="InvalidInputException">Not uniform, logit_normal or mode.</exception>
    public static SigmaDensity Parse(string name, string property) =>
        All.Cast<SigmaDensity?>().FirstOrDefault(d => d!.Value.ToName() == name)
        ?? throw new InvalidInputException($"{InvalidInputException.MemberOf(property)}: unknown density '{name}' (expected uniform, logit_normal or mode)", property);
}

/// <summary>The per-sample loss weight of flow matching (diffusers' <c>compute_loss_weighting_for_sd3</c>).</summary>
public enum FlowWeighting
{
    /// <summary><c>none</c>: 1.</summary>
    None,

    /// <summary><c>sigma_sqrt</c>: σ^-2.</summary>
    SigmaSqrt,

    /// <summary><c>cosmap</c>: 2/(π(1 - 2σ + 2σ²)).</summary>
    Cosmap,
}

/// <summary>Names of <see cref="FlowWeighting"/>, as diffusers' scripts spell them.</summary>
public static class FlowWeightings
{
    /// <summary>Every weighting.</summary>
    public static IReadOnlyList<FlowWeighting> All { get; } = Enum.GetValues<FlowWeighting>();

    /// <summary>none, sigma_sqrt or cosmap.</summary>
    public static string ToName(this FlowWeighting weighting) => weighting switch
    {
        FlowWeighting.None => "none",
        FlowWeighting.SigmaSqrt => "sigma_sqrt",
        FlowWeighting.Cosmap => "cosmap",
        _ => throw new ArgumentOutOfRangeException(nameof(weighting)),
    };

    /// <summary>Parses a name; the error names <paramref name="property"/>.</summary>
    /// <exception cref="InvalidInputException">Not none, sigma_sqrt or cosmap.</exception>
    public static FlowWeighting Parse(string name, string property) =>
        All.Cast<FlowWeighting?>().FirstOrDefault(w => w!.Value.ToName() == name)
        ?? throw new InvalidInputException($"{InvalidInputException.MemberOf(property)}: unknown weighting '{name}' (expected none, sigma_sqrt or cosmap)", property);
}
