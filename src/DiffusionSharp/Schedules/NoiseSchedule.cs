namespace DiffusionSharp.Schedules;

/// <summary>
/// The schedule table: beta_t and alpha_bar_t for t = 0..T-1, computed as diffusers computes them (float32 values,
/// float32 <c>torch.linspace</c> arithmetic, a cumulative product accumulated in double and rounded per entry).
/// It is the single source of truth every sampler and the forward process read.
/// </summary>
/// <remarks>
/// Notation (Ho et al. 2020): beta_t is the variance added at step t; alpha_t = 1 - beta_t;
/// alpha_bar_t = prod_{s &lt;= t} alpha_s, so q(x_t | x_0) = N(sqrt(alpha_bar_t)·x_0, (1 - alpha_bar_t)·I).
/// Indices here are diffusers' zero-based timesteps.
/// </remarks>
public sealed class NoiseSchedule
{
    private readonly float[] _betas;
    private readonly float[] _alphasCumprod;

    private NoiseSchedule(NoiseScheduleConfig config, float[] betas)
    {
        Config = config;
        _betas = betas;
        _alphasCumprod = CumulativeProduct(betas);
    }

    /// <summary>The configuration this table was built from.</summary>
    public NoiseScheduleConfig Config { get; }

    /// <summary>T, the number of training timesteps.</summary>
    public int NumTrainTimesteps => _betas.Length;

    /// <summary>beta_t for t = 0..T-1 (float32, as diffusers stores them).</summary>
    public ReadOnlySpan<float> Betas => _betas;

    /// <summary>alpha_bar_t = prod_{s &lt;= t} (1 - beta_s) for t = 0..T-1 (float32, as diffusers stores them).</summary>
    public ReadOnlySpan<float> AlphasCumprod => _alphasCumprod;

    /// <summary>Builds the table for <paramref name="config"/>.</summary>
    /// <exception cref="InvalidInputException">The configuration is out of range.</exception>
    public static NoiseSchedule Create(NoiseScheduleConfig config)
    {
        config.Validate();
        float[] betas = config.TrainedBetas is { } trained
            ? trained.Select(b => (float)b).ToArray()
            : config.Schedule switch
            {
                BetaSchedule.Linear => LinspaceF32((float)config.BetaStart, (float)config.BetaEnd, config.NumTrainTimesteps),
                BetaSchedule.ScaledLinear => LinspaceF32((float)Math.Sqrt(config.BetaStart), (float)Math.Sqrt(config.BetaEnd), config.NumTrainTimesteps)
                    .Select(b => b * b).ToArray(),
                BetaSchedule.SquaredCosCapV2 => CosineBetas(config.NumTrainTimesteps),
                BetaSchedule.Sigmoid => SigmoidBetas(config.BetaStart, config.BetaEnd, config.NumTrainTimesteps),
                _ => throw new ArgumentOutOfRangeException(nameof(config)),
            };
        if (config.RescaleBetasZeroSnr) betas = RescaleZeroTerminalSnr(betas);
        return new NoiseSchedule(config, betas);
    }

    /// <summary>alpha_bar_t as a double.</summary>
    public double AlphaBar(int t) => _alphasCumprod[CheckT(t)];

    /// <summary>beta_t as a double.</summary>
    public double Beta(int t) => _betas[CheckT(t)];

    /// <summary>Signal-to-noise ratio of x_t: SNR(t) = alpha_bar_t / (1 - alpha_bar_t) (Kingma et al. 2021). Infinite when alpha_bar_t = 1.</summary>
    public double Snr(int t)
    {
        double a = AlphaBar(t);
        return a / (1 - a);
    }

    /// <summary>
    /// The value of alpha_bar before the first step: 1 for <c>set_alpha_to_one</c>, else alpha_bar_0 (diffusers' <c>final_alpha_cumprod</c>).
    /// </summary>
    public double FinalAlphaCumprod(bool setAlphaToOne) => setAlphaToOne ? 1.0 : _alphasCumprod[0];

    private int CheckT(int t)
    {
        if ((uint)t >= (uint)_betas.Length)
            throw new ArgumentOutOfRangeException(nameof(t), t, $"timestep must lie in [0, {_betas.Length - 1}]");
        return t;
    }

    /// <summary>
    /// float32 <c>torch.linspace</c> exactly as libtorch's AVX2 CPU kernel computes it (the build diffusers' reference
    /// numbers came from): step = (end - start)/(n - 1) in float32; the first half counts up from start, the second
    /// half down from end. Whole pairs of 8-wide vectors get a base fma(step, i, start) (or fma(-step, n-1-i, end))
    /// plus j·step for lane j; the tail that does not fill a pair is computed lane by lane with a fused multiply-add.
    /// This reproduces diffusers' linear and scaled_linear betas bit for bit.
    /// </summary>
    public static float[] LinspaceF32(float start, float end, int n)
    {
        var result = new float[n];
        if (n == 1)
        {
            result[0] = start;
            return result;
        }
        float step = (end - start) / (n - 1);
        int halfway = n / 2;
        float At(int i) => i < halfway
            ? MathF.FusedMultiplyAdd(step, i, start)
            : MathF.FusedMultiplyAdd(-step, n - i - 1, end);
        const int lanes = 8;
        int vectorized = n - n % (2 * lanes);
        for (int i = 0; i < vectorized; i += lanes)
        {
            float bse = At(i);
            for (int j = 0; j < lanes; j++) result[i + j] = bse + j * step;
        }
        for (int i = vectorized; i < n; i++) result[i] = At(i);
        return result;
    }

    /// <summary>libtorch's CPU cumprod of (1 - beta) on float32: accumulated in double, each entry rounded to float32.</summary>
    private static float[] CumulativeProduct(float[] betas)
    {
        var result = new float[betas.Length];
        double acc = 1.0;
        for (int i = 0; i < betas.Length; i++)
        {
            acc *= 1f - betas[i];
            result[i] = (float)acc;
        }
        return result;
    }

    /// <summary>
    /// Nichol and Dhariwal (2021), eq. 17: beta_t = min(1 - alpha_bar((t+1)/T) / alpha_bar(t/T), 0.999) with
    /// alpha_bar(s) = cos²((s + 0.008)/1.008 · π/2), in double, then rounded to float32.
    /// </summary>
    private static float[] CosineBetas(int n)
    {
        static double AlphaBarFn(double s) => Math.Pow(Math.Cos((s + 0.008) / 1.008 * Math.PI / 2), 2);
        var result = new float[n];
        for (int i = 0; i < n; i++)
        {
            double t1 = (double)i / n, t2 = (double)(i + 1) / n;
            result[i] = (float)Math.Min(1 - AlphaBarFn(t2) / AlphaBarFn(t1), 0.999);
        }
        return result;
    }

    /// <summary>beta_start + (beta_end - beta_start)·sigmoid(x) for x = linspace(-6, 6, T), in float32.</summary>
    private static float[] SigmoidBetas(double betaStart, double betaEnd, int n)
    {
        var x = LinspaceF32(-6f, 6f, n);
        float range = (float)(betaEnd - betaStart), start = (float)betaStart;
        return x.Select(v => 1f / (1f + MathF.Exp(-v)) * range + start).ToArray();
    }

    /// <summary>
    /// Lin et al. (2023), "Common Diffusion Noise Schedules and Sample Steps are Flawed", algorithm 1: shift and scale
    /// sqrt(alpha_bar) so its last value is 0 and its first is unchanged, then recover the betas. float32 like diffusers.
    /// </summary>
    private static float[] RescaleZeroTerminalSnr(float[] betas)
    {
        var alphaBarSqrt = CumulativeProduct(betas).Select(MathF.Sqrt).ToArray();
        float first = alphaBarSqrt[0], last = alphaBarSqrt[^1];
        float scale = first / (first - last);
        var alphaBar = alphaBarSqrt.Select(a => (a - last) * scale).Select(a => a * a).ToArray();
        var result = new float[betas.Length];
        result[0] = 1f - alphaBar[0];
        for (int i = 1; i < betas.Length; i++) result[i] = 1f - alphaBar[i] / alphaBar[i - 1];
        return result;
    }
}
