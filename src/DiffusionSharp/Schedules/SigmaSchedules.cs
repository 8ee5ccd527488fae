namespace DiffusionSharp.Schedules;

/// <summary>
/// The variance-exploding view of a schedule that the Euler, Heun and DPM-Solver samplers use, computed the way
/// diffusers computes it: a float32 sigma table, numpy float64 interpolation, Karras sigmas and float timesteps.
/// Plain arrays, no tensors.
/// </summary>
/// <remarks>
/// Notation (Karras et al. 2022, section 2): sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t) is the noise level of
/// x_t / sqrt(alpha_bar_t), so the VP sample x_t = alpha_t·(x_0 + sigma_t·eps) with alpha_t = 1 / sqrt(sigma_t² + 1).
/// </remarks>
public static class SigmaSchedules
{
    /// <summary>
    /// alpha_bar as the sigma-based samplers hold it: with <c>rescale_betas_zero_snr</c> the last value (exactly 0)
    /// becomes 2^-24, the smallest positive float16 subnormal, so the first sigma is finite (about 4096).
    /// </summary>
    public static float[] SamplerAlphasCumprod(NoiseSchedule schedule)
    {
        var result = schedule.AlphasCumprod.ToArray();
        if (schedule.Config.RescaleBetasZeroSnr) result[^1] = MathF.Pow(2f, -24f);
        return result;
    }

    /// <summary>sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t) per training timestep, each operation in float32 like torch.</summary>
    public static float[] SigmaTable(ReadOnlySpan<float> alphasCumprod)
    {
        var result = new float[alphasCumprod.Length];
        for (int i = 0; i < result.Length; i++) result[i] = MathF.Sqrt((1f - alphasCumprod[i]) / alphasCumprod[i]);
        return result;
    }

    /// <summary>
    /// numpy's <c>np.interp(x, arange(len(fp)), fp)</c> in float64: fp[j] where x is the integer j, linear in between,
    /// clamped to the end values outside.
    /// </summary>
    public static double Interp(double x, ReadOnlySpan<float> fp)
    {
        if (fp.Length == 0) throw new ArgumentException("empty table", nameof(fp));
        if (double.IsNaN(x)) return double.NaN;
        if (x <= 0) return fp[0];
        if (x >= fp.Length - 1) return fp[^1];
        int j = (int)Math.Floor(x);
        if (j == x) return fp[j];
        double slope = (double)fp[j + 1] - fp[j];
        return slope * (x - j) + fp[j];
    }

    /// <summary>
    /// The noise levels of Karras et al. (2022), eq. 5: (sigma_max^(1/rho) + i/(n-1)·(sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
    /// for i = 0..n-1, descending, in float64.
    /// </summary>
    public static double[] Karras(double sigmaMin, double sigmaMax, int n, double rho = 7.0)
    {
        double minInvRho = Math.Pow(sigmaMin, 1 / rho), maxInvRho = Math.Pow(sigmaMax, 1 / rho);
        var result = new double[n];
        for (int i = 0; i < n; i++)
        {
            double ramp = TimestepSpacings.NumpyLinspace(0, 1, n, i);
            result[i] = Math.Pow(maxInvRho + ramp * (minInvRho - maxInvRho), rho);
        }
        return result;
    }

    /// <summary>
    /// The fractional training timestep whose sigma is <paramref name="sigma"/>: linear interpolation in log sigma
    /// between the two neighbouring table entries, clamped to the table (diffusers' <c>_sigma_to_t</c>).
    /// </summary>
    /// <param name="sigma">The noise level.</param>
    /// <param name="logSigmas">float32 log of the ascending sigma table, one entry per training timestep.</param>
    public static double SigmaToT(double sigma, ReadOnlySpan<float> logSigmas)
    {
        double logSigma = Math.Log(Math.Max(sigma, 1e-10));
        // low index: the last table entry not above log sigma, capped so that a higher neighbour exists
        int count = 0;
        for (int i = 0; i < logSigmas.Length; i++)
            if (logSigma - logSigmas[i] >= 0) count = i + 1;
        int low = Math.Min(Math.Max(count - 1, 0), logSigmas.Length - 2);
        int high = low + 1;
        // the denominator is a float32 difference, as numpy computes it on the float32 table
        double w = (logSigmas[low] - logSigma) / (double)(logSigmas[low] - logSigmas[high]);
        w = Math.Clamp(w, 0, 1);
        return (1 - w) * low + w * high;
    }

    /// <summary>float32 natural logs of a float32 table, as <c>np.log</c> on a float32 array.</summary>
    public static float[] Log(ReadOnlySpan<float> values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = MathF.Log(values[i]);
        return result;
    }

    /// <summary>
    /// The descending float32 timesteps of the Euler-type samplers (EulerDiscrete, EulerAncestral, Heun):
    /// linspace gives fractional values such as 887.8889; leading and trailing give integers.
    /// </summary>
    /// <exception cref="InvalidInputException">The number of steps is out of range.</exception>
    public static float[] FloatTimesteps(TimestepSpacing spacing, int numTrainTimesteps, int numInferenceSteps, int stepsOffset)
    {
        if (numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps)
            throw new InvalidInputException(
                $"number of inference steps must lie in [1, {numTrainTimesteps}] (the training timesteps), got {numInferenceSteps}");
        int n = numInferenceSteps, t = numTrainTimesteps;
        return spacing switch
        {
            // np.linspace(0, T-1, N, dtype=float32)[::-1]: float64 values rounded to float32
            TimestepSpacing.Linspace => Enumerable.Range(0, n).Select(i => (float)TimestepSpacings.NumpyLinspace(0, t - 1, n, i)).Reverse().ToArray(),
            // leading adds steps_offset; linspace and trailing ignore it
            TimestepSpacing.Leading => Enumerable.Range(0, n).Select(i => (float)((long)i * (t / n) + stepsOffset)).Reverse().ToArray(),
            _ => TimestepSpacings.Integer(spacing, t, n).Select(v => (float)v).ToArray(),
        };
    }
}
