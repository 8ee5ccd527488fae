using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The options of <see cref="FlowMatchHeunDiscreteScheduler"/>: diffusers' config keys and one run option.</summary>
/// <param name="Schedule">The noise levels and shift (num_train_timesteps, shift); diffusers' Heun has no dynamic shifting.</param>
/// <param name="SingleShift">Apply the shift once instead of diffusers 0.30.3's twice (see <see cref="FlowMatchEulerDiscreteOptions.SingleShift"/>).</param>
public sealed record FlowMatchHeunDiscreteOptions(FlowMatchSchedule Schedule, bool SingleShift = false)
{
    /// <summary>diffusers' defaults: T = 1000, shift 1.</summary>
    public FlowMatchHeunDiscreteOptions() : this(new FlowMatchSchedule()) { }

    /// <summary>Checks the values, naming diffusers' keys.</summary>
    /// <exception cref="InvalidInputException">A value is out of range, or dynamic shifting.</exception>
    public void Validate()
    {
        Schedule.Validate();
        if (Schedule.UseDynamicShifting)
            throw new InvalidInputException("use_dynamic_shifting is not supported by FlowMatchHeunDiscreteScheduler (diffusers' Heun has only shift)");
    }
}
