namespace DiffusionSharp.Schedules;

/// <summary>
/// The noise levels of rectified flow / flow matching, x_σ = (1 - σ)·x_0 + σ·eps for σ in (0, 1], as diffusers'
/// <c>FlowMatchEulerDiscreteScheduler</c> builds them, with its config keys and defaults (<c>num_train_timesteps</c>,
/// <c>shift</c>, <c>use_dynamic_shifting</c>, <c>base_shift</c>, <c>max_shift</c>, <c>base_image_seq_len</c>,
/// <c>max_image_seq_len</c>). Plain arrays, float32 where diffusers holds float32 tensors, float64 where it uses numpy.
/// </summary>
/// <remarks>
/// The resolution shift (Esser et al. 2024, SD3, eq. 23) maps σ to s·σ / (1 + (s - 1)·σ): s &gt; 1 spends more of the
/// steps at high noise. diffusers 0.30.3 applies it twice to its inference sigmas (diffusers issue #13243): its
/// constructor shifts the training sigmas and keeps the shifted σ_max and σ_min, and <c>set_timesteps(N)</c> spaces N
/// values between those and shifts them again. <see cref="InferenceSigmas"/> reproduces that by default, so diffusers'
/// configs behave the same here; <c>singleShift</c> spaces them between the unshifted ends instead, the paper's formula
/// applied once. With dynamic shifting (Flux) nothing is shifted in the constructor and <c>set_timesteps</c> applies
/// exp(μ)/(exp(μ) + 1/σ - 1) once, with μ given by the caller.
/// </remarks>
/// <param name="NumTrainTimesteps">T: the training sigmas are 1/T, 2/T, ..., 1 (shifted).</param>
/// <param name="Shift">The shift s (&gt; 0; 1 = none), ignored with dynamic shifting.</param>
/// <param name="UseDynamicShifting">Shift at sampling time by μ instead (use_dynamic_shifting).</param>
/// <param name="BaseShift">Flux's μ at <paramref name="BaseImageSeqLen"/> (base_shift); recorded, unused here.</param>
/// <param name="MaxShift">Flux's μ at <paramref name="MaxImageSeqLen"/> (max_shift); recorded, unused here.</param>
/// <param name="BaseImageSeqLen">base_image_seq_len; recorded, unused here.</param>
/// <param name="MaxImageSeqLen">max_image_seq_len; recorded, unused here.</param>
public sealed record FlowMatchSchedule(
    int NumTrainTimesteps = 1000,
    double Shift = 1.0,
    bool UseDynamicShifting = false,
    double BaseShift = 0.5,
    double MaxShift = 1.15,
    int BaseImageSeqLen = 256,
    int MaxImageSeqLen = 4096)
{
    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        if (NumTrainTimesteps is < 1 or > NoiseScheduleConfig.MaxTrainTimesteps)
            throw new InvalidInputException($"num_train_timesteps must lie in [1, {NoiseScheduleConfig.MaxTrainTimesteps}] (got {NumTrainTimesteps})");
        if (!(Shift > 0) || double.IsInfinity(Shift)) throw new InvalidInputException($"shift must be a positive number (got {Shift})");
    }

    /// <summary>s·σ / (1 + (s - 1)·σ) in float64 (numpy).</summary>
    public double Shifted(double sigma) => Shift * sigma / (1 + (Shift - 1) * sigma);

    /// <summary>Flux's time shift exp(μ) / (exp(μ) + (1/σ - 1)) in float64 (diffusers' <c>time_shift(mu, 1.0, σ)</c>).</summary>
    public static double TimeShift(double mu, double sigma) => Math.Exp(mu) / (Math.Exp(mu) + Math.Pow(1 / sigma - 1, 1.0));

    /// <summary>
    /// The T training sigmas, descending from σ = 1, float32 as diffusers' constructor computes them: (T - i)/T, then the
    /// shift in float32 arithmetic (not with dynamic shifting). Entry i belongs to training timestep <c>σ_i·T</c>.
    /// </summary>
    public float[] TrainingSigmas()
    {
        var sigmas = new float[NumTrainTimesteps];
        float t = NumTrainTimesteps, s = (float)Shift;
        for (int i = 0; i < sigmas.Length; i++)
        {
            float sigma = (NumTrainTimesteps - i) / t;
            sigmas[i] = UseDynamicShifting ? sigma : s * sigma / (1f + (s - 1f) * sigma);
        }
        return sigmas;
    }

    /// <summary>
    /// The <paramref name="n"/> inference sigmas of <c>set_timesteps(n)</c>, descending, float32, without the final 0:
    /// N values spaced evenly (numpy float64) between σ_max and σ_min of <see cref="TrainingSigmas"/> and shifted (diffusers
    /// 0.30.3: a second time), or between 1 and 1/T when <paramref name="singleShift"/> (the shift applied once), or
    /// time-shifted by <paramref name="mu"/> with dynamic shifting.
    /// </summary>
    /// <exception cref="InvalidInputException">n below 1.</exception>
    /// <exception cref="ArgumentException">Dynamic shifting without μ.</exception>
    public float[] InferenceSigmas(int n, double? mu = null, bool singleShift = false)
    {
        if (n < 1) throw new InvalidInputException($"number of inference steps must be at least 1 (got {n})");
        if (UseDynamicShifting && mu is null)
            throw new ArgumentException("use_dynamic_shifting needs mu", nameof(mu));
        var training = TrainingSigmas();
        double max = singleShift ? 1.0 : training[0];
        double min = singleShift ? (double)(1f / NumTrainTimesteps) : training[^1];
        var sigmas = new float[n];
        for (int i = 0; i < n; i++)
        {
            // np.linspace over timesteps σ·T, then divided by T, as diffusers does
            double sigma = TimestepSpacings.NumpyLinspace(max * NumTrainTimesteps, min * NumTrainTimesteps, n, i) / NumTrainTimesteps;
            sigmas[i] = (float)(UseDynamicShifting ? TimeShift(mu!.Value, sigma) : Shifted(sigma));
        }
        return sigmas;
    }

    /// <summary>The timestep of a float32 sigma: σ·T in float32, as diffusers' <c>sigmas * num_train_timesteps</c>.</summary>
    public double TimestepOf(float sigma) => sigma * (float)NumTrainTimesteps;
}
