namespace DiffusionSharp.Schedules;

/// <summary>How N inference timesteps are picked from the T training timesteps (diffusers' <c>timestep_spacing</c>; Lin et al. 2023, table 2).</summary>
public enum TimestepSpacing
{
    /// <summary><c>leading</c>: 0, T/N, 2T/N, ... (integer ratio), reversed, plus steps_offset. Never reaches T-1.</summary>
    Leading,

    /// <summary><c>trailing</c>: T-1, T-1-T/N, ... down to about T/N-1. Starts at the last timestep.</summary>
    Trailing,

    /// <summary><c>linspace</c>: N evenly spaced values from T-1 down to 0, rounded.</summary>
    Linspace,
}

/// <summary>The integer timestep selections DDPM and DDIM use, as numpy computes them in diffusers.</summary>
public static class TimestepSpacings
{
    /// <summary>Parses diffusers' <c>timestep_spacing</c> string.</summary>
    /// <exception cref="InvalidInputException">Not one of leading, trailing, linspace.</exception>
    public static TimestepSpacing Parse(string name, string source = "timestep_spacing") => name switch
    {
        "leading" => TimestepSpacing.Leading,
        "trailing" => TimestepSpacing.Trailing,
        "linspace" => TimestepSpacing.Linspace,
        _ => throw new InvalidInputException($"{source}: unknown timestep spacing '{name}' (expected leading, trailing or linspace)"),
    };

    /// <summary>diffusers' string for a spacing.</summary>
    public static string ToDiffusersName(this TimestepSpacing spacing) => spacing switch
    {
        TimestepSpacing.Leading => "leading",
        TimestepSpacing.Trailing => "trailing",
        TimestepSpacing.Linspace => "linspace",
        _ => throw new ArgumentOutOfRangeException(nameof(spacing)),
    };

    /// <summary>
    /// The descending integer timesteps of DDPMScheduler / DDIMScheduler <c>set_timesteps(n)</c>.
    /// </summary>
    /// <param name="spacing">The spacing rule.</param>
    /// <param name="numTrainTimesteps">T.</param>
    /// <param name="numInferenceSteps">N, 1..T.</param>
    /// <param name="stepsOffset">Added to every leading timestep (diffusers' <c>steps_offset</c>).</param>
    public static long[] Integer(TimestepSpacing spacing, int numTrainTimesteps, int numInferenceSteps, int stepsOffset = 0)
    {
        if (numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps)
            throw new InvalidInputException(
                $"number of inference steps must lie in [1, {numTrainTimesteps}] (the training timesteps), got {numInferenceSteps}");
        int n = numInferenceSteps, t = numTrainTimesteps;
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
                // np.linspace(0, T-1, N).round()[::-1]
                return Enumerable.Range(0, n).Select(i => (long)Math.Round(NumpyLinspace(0, t - 1, n, i))).Reverse().ToArray();
            case TimestepSpacing.Leading:
                // (np.arange(0, N) * (T // N)).round()[::-1] + steps_offset
                int ratio = t / n;
                return Enumerable.Range(0, n).Select(i => (long)i * ratio + stepsOffset).Reverse().ToArray();
            case TimestepSpacing.Trailing:
                // np.round(np.arange(T, 0, -T/N)) - 1
                double step = (double)t / n;
                int count = (int)Math.Ceiling((0.0 - t) / -step);
                return Enumerable.Range(0, count).Select(i => (long)Math.Round(t + i * -step) - 1).ToArray();
            default:
                throw new ArgumentOutOfRangeException(nameof(spacing));
        }
    }

    /// <summary>Element i of numpy's float64 <c>linspace(start, stop, n)</c>: start + i·step, the last one exactly stop.</summary>
    public static double NumpyLinspace(double start, double stop, int n, int i)
    {
        if (n == 1) return start;
        if (i == n - 1) return stop;
        double step = (stop - start) / (n - 1);
        return start + i * step;
    }
}
