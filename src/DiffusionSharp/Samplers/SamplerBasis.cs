using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What a sampler is built from by name (<see cref="SamplerEntry.Create"/>): the model's training schedule and prediction
/// type, and the inference options samplers share, each with its diffusers key. Every sampler takes the options it has
/// and keeps diffusers' defaults for the rest. Read from another sampler's config (<see cref="FromConfig"/>) it is
/// diffusers' <c>from_config</c>: keep the training schedule, change the sampler.
/// </summary>
/// <param name="Schedule">The training noise schedule (num_train_timesteps, beta_*, trained_betas, rescale_betas_zero_snr).</param>
public sealed record SamplerBasis(NoiseScheduleConfig Schedule)
{
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

    /// <summary>
    /// The basis a config of any sampler class holds: its training schedule, prediction type, spacing (leading when the
    /// key is absent, DDPM's default), steps offset, and the clipping, set_alpha_to_one and variance_type keys that DDPM
    /// and DDIM read from each other's configs.
    /// </summary>
    /// <exception cref="InvalidInputException">A value is malformed or out of range.</exception>
    public static SamplerBasis FromConfig(SchedulerConfigReader config) => new(config.NoiseSchedule())
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
    };
}
