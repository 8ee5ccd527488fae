using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The options of <see cref="FlowMatchEulerDiscreteScheduler"/>: diffusers' config keys and two run options.</summary>
/// <param name="Schedule">The noise levels and shift (num_train_timesteps, shift, use_dynamic_shifting, base_shift, ...).</param>
/// <param name="Mu">
/// The time shift μ of a run with dynamic shifting (diffusers' <c>set_timesteps(..., mu=)</c>; Flux computes it from the
/// image's sequence length); required then, refused otherwise.
/// </param>
/// <param name="SingleShift">
/// Apply the shift once to sigmas spaced between 1 and 1/T (the paper's formula), instead of diffusers 0.30.3's twice
/// (diffusers issue #13243); not a diffusers config key, so it is not written to <c>scheduler_config.json</c>.
/// </param>
public sealed record FlowMatchEulerDiscreteOptions(FlowMatchSchedule Schedule, double? Mu = null, bool SingleShift = false)
{
    /// <summary>diffusers' defaults: T = 1000, shift 1.</summary>
    public FlowMatchEulerDiscreteOptions() : this(new FlowMatchSchedule()) { }

    /// <summary>Checks the values, naming diffusers' keys and the options.</summary>
    /// <exception cref="InvalidInputException">A value is out of range or the options contradict each other.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (Mu is { } mu && !double.IsFinite(mu)) throw InvalidInputException.For<FlowMatchEulerDiscreteOptions>(nameof(Mu), $" must be a finite number (got {mu})");
        if (Mu is not null && !Schedule.UseDynamicShifting)
            throw InvalidInputException.For<FlowMatchEulerDiscreteOptions>(nameof(Mu), " applies only with use_dynamic_shifting (the config's shift is used otherwise)");
        if (SingleShift && Schedule.UseDynamicShifting)
            throw InvalidInputException.For<FlowMatchEulerDiscreteOptions>(nameof(SingleShift), " applies to the shift, not to use_dynamic_shifting (which shifts once)");
    }
}
