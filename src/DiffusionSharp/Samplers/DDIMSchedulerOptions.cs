using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The sampling options of <see cref="DDIMScheduler"/>, with diffusers' defaults.</summary>
public sealed record DDIMSchedulerOptions
{
    /// <summary>What the model predicts (<c>prediction_type</c>).</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary>
    /// eta in [0, 1] scales the noise of each step (Song et al. 2021, eq. 16): 0 is the deterministic DDIM, 1 has DDPM's
    /// posterior variance. In diffusers this is an argument of <c>step()</c>, so it is not written to the config.
    /// </summary>
    public double Eta { get; init; }

    /// <summary>What happens to the predicted x_0 (<c>clip_sample</c>, on by default as in diffusers, and thresholding).</summary>
    public SampleClipping Clipping { get; init; } = new();

    /// <summary>
    /// Use alpha_bar = 1 before the first training step, so the last step lands on a clean sample (<c>set_alpha_to_one</c>);
    /// false uses alpha_bar_0, as Stable Diffusion does.
    /// </summary>
    public bool SetAlphaToOne { get; init; } = true;

    /// <summary>How the inference timesteps are picked (<c>timestep_spacing</c>).</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading;

    /// <summary>Added to leading timesteps (<c>steps_offset</c>); Stable Diffusion uses 1.</summary>
    public int StepsOffset { get; init; }

    /// <summary>Checks the ranges, naming diffusers' keys (and the property <see cref="Eta"/>, which is no key).</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        Clipping.Validate();
        if (StepsOffset < 0) throw new InvalidInputException($"steps_offset must not be negative (got {StepsOffset})");
        if (!(Eta >= 0 && Eta <= 1)) throw InvalidInputException.For<DDIMSchedulerOptions>(nameof(Eta), $" must lie in [0, 1] (got {Eta})");
    }
}
