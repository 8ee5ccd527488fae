using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>Timestep bookkeeping of the samplers that step between integer training timesteps (DDPM, DDIM).</summary>
internal static class IntegerTimesteps
{
    /// <summary>The descending timesteps of <c>set_timesteps(n)</c>, checked to stay inside the training range.</summary>
    public static long[] Select(TimestepSpacing spacing, int numTrainTimesteps, int numInferenceSteps, int stepsOffset)
    {
        var timesteps = TimestepSpacings.Integer(spacing, numTrainTimesteps, numInferenceSteps, stepsOffset);
        long first = timesteps.Max();
        if (first >= numTrainTimesteps)
            throw new InvalidInputException(
                $"steps_offset: {stepsOffset} moves timestep {first} past the last training timestep {numTrainTimesteps - 1} for {numInferenceSteps} steps");
        return timesteps;
    }

    /// <summary>
    /// diffusers' previous timestep: t - T // N. This is the next element of the leading and trailing timesteps, but not
    /// always of linspace ones (999 → 899 where linspace continues with 888); diffusers' DDPM and DDIM step that way and so do we.
    /// Negative once the chain is past t = 0.
    /// </summary>
    public static int Previous(int timestep, int numTrainTimesteps, int numInferenceSteps) =>
        timestep - numTrainTimesteps / numInferenceSteps;

    /// <summary>The table index of a timestep passed to <c>Step</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not an integer in [0, T-1].</exception>
    public static int ToIndex(double timestep, int numTrainTimesteps)
    {
        if (timestep != Math.Floor(timestep) || timestep < 0 || timestep >= numTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"expected an integer timestep in [0, {numTrainTimesteps - 1}]");
        return (int)timestep;
    }
}
