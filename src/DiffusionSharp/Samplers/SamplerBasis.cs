using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What a sampler is built from by name (<see cref="SamplerEntry.Create"/>): the model's formulation, its training schedule
/// and prediction type, and the inference options samplers share, each with its diffusers key. Every sampler takes the
/// options it has and keeps diffusers' defaults for the rest. Read from another sampler's config (<see cref="FromConfig"/>)
/// it is diffusers' <c>from_config</c>: keep the training schedule, change the sampler.
/// </summary>
/// <param name="Schedule">
/// The training noise schedule of the DDPM family (num_train_timesteps, beta_*, trained_betas, rescale_betas_zero_snr); for
/// flow matching and EDM only its num_train_timesteps is theirs (see <see cref="FlowSchedule"/>, <see cref="EdmSchedule"/>).
/// </param>
public sealed record SamplerBasis(NoiseScheduleConfig Schedule)
{
    /// <summary>The formulation the model was trained with: only its samplers are built (<see cref="SamplerCatalog.Create"/>).</summary>
    public FormulationKind Formulation { get; init; } = FormulationKind.Ddpm;

    /// <summary>The flow-matching noise levels and shift, for the flow samplers.</summary>
    public FlowMatchSchedule FlowSchedule { get; init; } = new();

    /// <summary>EDM's noise levels and σ_data, for the EDM samplers.</summary>
    public EdmSchedule EdmSchedule { get; init; } = new();

    /// <summary>The basis of a flow-matching model: its noise levels, the velocity as its prediction.</summary>
    public static SamplerBasis ForFlow(FlowMatchSchedule schedule) => new(new NoiseScheduleConfig(NumTrainTimesteps: schedule.NumTrainTimesteps))
    {
        Formulation = FormulationKind.Flow,
        FlowSchedule = schedule,
        PredictionType = PredictionType.FlowPrediction,
    };

    /// <summary>The basis of an EDM model: its noise levels, σ_data and prediction type (epsilon or v_prediction).</summary>
    public static SamplerBasis ForEdm(EdmSchedule schedule, PredictionType predictionType = PredictionType.Epsilon) =>
        new(new NoiseScheduleConfig(NumTrainTimesteps: schedule.NumTrainTimesteps))
        {
            Formulation = FormulationKind.Edm,
            EdmSchedule = schedule,
            PredictionType = predictionType,
        };

    /// <summary>What the model predicts (prediction_type).</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary>How inference timesteps are picked (timestep_spacing); null keeps the sampler's default (leading for DDPM, DDIM and PNDM, linspace otherwise).</summary>
    public TimestepSpacing? TimestepSpacing { get; init; }

    /// <summary>Added to leading timesteps (steps_offset).</summary>
    public int StepsOffset { get; init; }

    /// <summary>What DDPM and DDIM do to the predicted x_0 (clip_sample, clip_sample_range, thresholding, ...).</summary>
    public SampleClipping Clipping { get; init; } = new();

    /// <summary>DDIM's alpha_bar past the first training step (set_alpha_to_one); null keeps its default, true.</summary>
    public bool? SetAlphaToOne { get; init; }

    /// <summary>DDPM's reverse-step variance (variance_type); null keeps its default, fixed_small.</summary>
    public DDPMVarianceType? VarianceType { get; init; }

    /// <summary>Karras et al. 2022 noise levels (use_karras_sigmas), for the samplers that have them.</summary>
    public bool KarrasSigmas { get; init; }

    /// <summary>DDIM's noise scale eta (0 deterministic), which diffusers passes to <c>step()</c>.</summary>
    public double Eta { get; init; }

    /// <summary>Flow matching: apply the shift once (<see cref="SamplerOverrides.SingleShift"/>).</summary>
    public bool SingleShift { get; init; }

    /// <summary>
    /// The basis a config of any sampler class holds. For the DDPM family: its training schedule, prediction type, spacing
    /// (leading when the key is absent, DDPM's default), steps offset, and the clipping, set_alpha_to_one and variance_type
    /// keys that DDPM and DDIM read from each other's configs. For a flow-matching or EDM class: the keys its samplers
    /// share (<see cref="ForFlow"/>, <see cref="ForEdm"/>).
    /// </summary>
    /// <exception cref="InvalidInputException">A value is malformed or out of range.</exception>
    public static SamplerBasis FromConfig(SchedulerConfigReader config) => SamplerCatalog.FormulationOf(config.ClassName) switch
    {
        FormulationKind.Flow => ForFlow(FlowMatchConfig.Read(config, dynamicShiftingKeys: true)),
        FormulationKind.Edm => ForEdm(EdmConfig.Read(config), config.PredictionType()),
        _ => FromDdpmConfig(config),
    };

    private static SamplerBasis FromDdpmConfig(SchedulerConfigReader config) => new(config.NoiseSchedule())
    {
        PredictionType = config.PredictionType(),
        VarianceType = config.NullableString("variance_type") is { } variance ? DDPMVarianceTypes.Parse(variance) : null,
        Clipping = config.SampleClipping(),
        SetAlphaToOne = config.NullableBool("set_alpha_to_one"),
        TimestepSpacing = config.TimestepSpacing(),
        StepsOffset = config.StepsOffset(),
    };

    /// <summary>The basis with the user's overrides applied (unset ones keep their value).</summary>
    public SamplerBasis With(SamplerOverrides overrides) => this with
    {
        TimestepSpacing = overrides.TimestepSpacing ?? TimestepSpacing,
        KarrasSigmas = KarrasSigmas || overrides.KarrasSigmas,
        Eta = overrides.Eta ?? Eta,
        SingleShift = SingleShift || overrides.SingleShift,
    };
}
