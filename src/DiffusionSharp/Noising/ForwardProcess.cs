using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Noising;

/// <summary>
/// The forward (noising) process of Ho et al. (2020) over a <see cref="NoiseSchedule"/>, batched over per-sample timesteps
/// for training: q(x_t | x_0), the velocity target, the SNR, the posterior q(x_{t-1} | x_t, x_0), and the conversions
/// between x_t, x_0, eps and v.
/// </summary>
/// <remarks>
/// Notation: alpha_bar_t = prod_{s &lt;= t} (1 - beta_s); x_t = sqrt(alpha_bar_t)·x_0 + sqrt(1 - alpha_bar_t)·eps (eq. 4);
/// v = sqrt(alpha_bar_t)·eps - sqrt(1 - alpha_bar_t)·x_0 (Salimans and Ho 2022).
/// Tensors are [B, ...] with <c>timesteps</c> [B] int64 (one per sample, in 0..T-1). The per-timestep factors are
/// gathered from small float32 tables cached on the CPU, computed as diffusers computes them (float32 square roots of
/// the float32 alpha_bar), so <see cref="AddNoise"/> and <see cref="GetVelocity"/> match diffusers bit for bit.
/// Every method returns fresh tensors and disposes none of its inputs; call them inside the training step's dispose scope.
/// </remarks>
public sealed class ForwardProcess : IDisposable
{
    private const int SqrtAlphaBarRow = 0, SqrtOneMinusAlphaBarRow = 1;
    private const int CoefX0Row = 0, CoefXtRow = 1, VarianceRow = 2, LogVarianceClippedRow = 3;

    /// <summary>[2, T] float32: sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t).</summary>
    private readonly Tensor _scales;

    /// <summary>[4, T] float32: posterior mean coefficients of x_0 and x_t, posterior variance, its clipped log.</summary>
    private readonly Tensor _posterior;

    /// <summary>
    /// alpha_bar_t accumulated in double from the float32 betas, as the DDPM reference code does: the float32 table
    /// loses most digits of 1 - alpha_bar_t near t = 0, which the posterior divides by.
    /// </summary>
    private readonly double[] _alphaBar64;

    /// <summary>The forward process of <paramref name="schedule"/>.</summary>
    public ForwardProcess(NoiseSchedule schedule)
    {
        Schedule = schedule;
        int n = schedule.NumTrainTimesteps;
        _alphaBar64 = new double[n];
        double product = 1.0;
        for (int t = 0; t < n; t++) _alphaBar64[t] = product *= 1.0 - schedule.Betas[t];
        var scales = new float[2 * n];
        var posterior = new float[4 * n];
        for (int t = 0; t < n; t++)
        {
            float alphaBar = schedule.AlphasCumprod[t];
            scales[SqrtAlphaBarRow * n + t] = MathF.Sqrt(alphaBar);
            scales[SqrtOneMinusAlphaBarRow * n + t] = MathF.Sqrt(1f - alphaBar);
            var (coefX0, coefXt) = PosteriorMeanCoefficients(t);
            posterior[CoefX0Row * n + t] = (float)coefX0;
            posterior[CoefXtRow * n + t] = (float)coefXt;
            posterior[VarianceRow * n + t] = (float)PosteriorVariance(t);
            posterior[LogVarianceClippedRow * n + t] = (float)PosteriorLogVarianceClipped(t);
        }
        _scales = tensor(scales, [2, n]).DetachFromDisposeScope();
        _posterior = tensor(posterior, [4, n]).DetachFromDisposeScope();
    }

    /// <summary>The schedule table.</summary>
    public NoiseSchedule Schedule { get; }

    /// <summary>q(x_t | x_0) sampled with the given noise: sqrt(alpha_bar_t)·x_0 + sqrt(1 - alpha_bar_t)·eps (eq. 4; diffusers' <c>add_noise</c>).</summary>
    /// <param name="x0">Clean samples [B, ...].</param>
    /// <param name="noise">eps ~ N(0, I), shaped like <paramref name="x0"/>.</param>
    /// <param name="timesteps">[B] int64.</param>
    public Tensor AddNoise(Tensor x0, Tensor noise, Tensor timesteps)
    {
        var (a, s) = Scales(timesteps, x0);
        return a * x0 + s * noise;
    }

    /// <summary>The v-prediction target sqrt(alpha_bar_t)·eps - sqrt(1 - alpha_bar_t)·x_0 (Salimans and Ho 2022, section 4; diffusers' <c>get_velocity</c>).</summary>
    public Tensor GetVelocity(Tensor x0, Tensor noise, Tensor timesteps)
    {
        var (a, s) = Scales(timesteps, x0);
        return a * noise - s * x0;
    }

    /// <summary>What the network learns to output for <paramref name="type"/>: eps, x_0, or v.</summary>
    public Tensor TrainingTarget(PredictionType type, Tensor x0, Tensor noise, Tensor timesteps) => type switch
    {
        PredictionType.Epsilon => noise.alias(),
        PredictionType.Sample => x0.alias(),
        PredictionType.VPrediction => GetVelocity(x0, noise, timesteps),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>SNR(t) = alpha_bar_t / (1 - alpha_bar_t) (Kingma et al. 2021, eq. 2), [B] float32; used by min-SNR loss weighting.</summary>
    public Tensor Snr(Tensor timesteps)
    {
        var (a, s) = Gather(_scales, SqrtAlphaBarRow, SqrtOneMinusAlphaBarRow, timesteps, rank: 1);
        return (a / s).square();
    }

    /// <summary>x_0 = (x_t - sqrt(1 - alpha_bar_t)·eps) / sqrt(alpha_bar_t) (eq. 4 solved for x_0; eq. 15).</summary>
    public Tensor PredictStartFromNoise(Tensor xt, Tensor timesteps, Tensor noise)
    {
        var (a, s) = Scales(timesteps, xt);
        return (xt - s * noise) / a;
    }

    /// <summary>eps = (x_t - sqrt(alpha_bar_t)·x_0) / sqrt(1 - alpha_bar_t) (eq. 4 solved for eps).</summary>
    public Tensor PredictNoiseFromStart(Tensor xt, Tensor timesteps, Tensor x0)
    {
        var (a, s) = Scales(timesteps, xt);
        return (xt - a * x0) / s;
    }

    /// <summary>x_0 = sqrt(alpha_bar_t)·x_t - sqrt(1 - alpha_bar_t)·v (Salimans and Ho 2022, section 4).</summary>
    public Tensor PredictStartFromV(Tensor xt, Tensor timesteps, Tensor v)
    {
        var (a, s) = Scales(timesteps, xt);
        return a * xt - s * v;
    }

    /// <summary>eps = sqrt(alpha_bar_t)·v + sqrt(1 - alpha_bar_t)·x_t (Salimans and Ho 2022, section 4).</summary>
    public Tensor PredictNoiseFromV(Tensor xt, Tensor timesteps, Tensor v)
    {
        var (a, s) = Scales(timesteps, xt);
        return a * v + s * xt;
    }

    /// <summary>The posterior mean mu~_t(x_t, x_0) = coefX0·x_0 + coefXt·x_t (eq. 7).</summary>
    public Tensor PosteriorMean(Tensor x0, Tensor xt, Tensor timesteps)
    {
        var (coefX0, coefXt) = Gather(_posterior, CoefX0Row, CoefXtRow, timesteps, (int)xt.dim());
        return coefX0 * x0 + coefXt * xt;
    }

    /// <summary>The posterior variance beta~_t and its clipped log, [B] float32 each (eq. 7).</summary>
    public (Tensor Variance, Tensor LogVarianceClipped) PosteriorVariance(Tensor timesteps) =>
        Gather(_posterior, VarianceRow, LogVarianceClippedRow, timesteps, rank: 1);

    /// <summary>
    /// The coefficients of x_0 and x_t in the posterior mean (eq. 7):
    /// beta_t·sqrt(alpha_bar_{t-1}) / (1 - alpha_bar_t) and (1 - alpha_bar_{t-1})·sqrt(alpha_t) / (1 - alpha_bar_t), with alpha_bar_{-1} = 1.
    /// </summary>
    public (double X0, double Xt) PosteriorMeanCoefficients(int t)
    {
        double beta = Schedule.Beta(t), alphaBar = _alphaBar64[t], alphaBarPrev = AlphaBarPrev(t);
        return (beta * Math.Sqrt(alphaBarPrev) / (1 - alphaBar), (1 - alphaBarPrev) * Math.Sqrt(1 - beta) / (1 - alphaBar));
    }

    /// <summary>The posterior variance beta~_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)·beta_t (eq. 7); 0 at t = 0.</summary>
    public double PosteriorVariance(int t) => (1 - AlphaBarPrev(t)) / (1 - _alphaBar64[t]) * Schedule.Beta(t);

    /// <summary>
    /// log(beta~_t) with the t = 0 value (log 0) replaced by the t = 1 value, as in the DDPM reference code
    /// (<c>posterior_log_variance_clipped</c>); floored at 1e-20 for a one-step schedule.
    /// </summary>
    public double PosteriorLogVarianceClipped(int t)
    {
        int source = t == 0 && Schedule.NumTrainTimesteps > 1 ? 1 : t;
        return Math.Log(Math.Max(PosteriorVariance(source), 1e-20));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _scales.Dispose();
        _posterior.Dispose();
    }

    private double AlphaBarPrev(int t) => t > 0 ? _alphaBar64[t - 1] : 1.0;

    /// <summary>sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t) shaped [B, 1, ...] to broadcast against <paramref name="like"/>.</summary>
    private (Tensor A, Tensor S) Scales(Tensor timesteps, Tensor like) =>
        Gather(_scales, SqrtAlphaBarRow, SqrtOneMinusAlphaBarRow, timesteps, (int)like.dim(), like);

    /// <summary>Two rows of a [rows, T] table at the timesteps, each [B] followed by rank-1 singleton dimensions, on <paramref name="like"/>'s device.</summary>
    private static (Tensor, Tensor) Gather(Tensor table, int row1, int row2, Tensor timesteps, int rank, Tensor? like = null)
    {
        if (timesteps.dim() != 1 || timesteps.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new ArgumentException($"timesteps must be a 1-D int64 tensor, got {timesteps.dtype} [{string.Join(", ", timesteps.shape)}]", nameof(timesteps));
        long batch = timesteps.shape[0];
        if (like is not null && (like.dim() == 0 || like.shape[0] != batch))
            throw new ArgumentException($"{batch} timesteps for a batch of shape [{string.Join(", ", like.shape)}]", nameof(timesteps));
        var shape = new long[rank];
        Array.Fill(shape, 1L);
        shape[0] = batch;
        var rows = table.index_select(1, timesteps.to(table.device));
        if (like is not null && like.device_type != table.device_type) rows = rows.to(like.device);
        return (rows[row1].view(shape), rows[row2].view(shape));
    }
}
