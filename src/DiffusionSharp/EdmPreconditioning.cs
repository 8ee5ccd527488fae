using static TorchSharp.torch;

namespace DiffusionSharp;

/// <summary>
/// EDM's preconditioning (Karras et al. 2022, table 1 and section 5): the denoiser D(x; σ) = c_skip(σ)·x +
/// c_out(σ)·F(c_in(σ)·x; c_noise(σ)) of a network F, in the one place that both the EDM samplers (which apply it around a
/// plain network, as diffusers' <c>precondition_inputs</c>, <c>precondition_noise</c> and <c>precondition_outputs</c> do)
/// and the EDM training objective read.
/// </summary>
/// <remarks>
/// Notation: σ the noise level of x = x_0 + σ·eps, σ_data the standard deviation of the data. c_in = 1/sqrt(σ² + σ_data²)
/// gives the network unit-variance input; c_skip = σ_data²/(σ² + σ_data²) and c_out = σ·σ_data/sqrt(σ² + σ_data²) make
/// the network's target unit-variance (its sign is flipped for diffusers' <c>v_prediction</c>); c_noise = ln(σ)/4; the loss
/// weight λ(σ) = (σ² + σ_data²)/(σ·σ_data)² = 1/c_out² makes the effective weight on F one at every σ (eq. 8). Tensor
/// forms take σ per batch item ([B]) and broadcast it over [B, C, ...]; they return fresh tensors and dispose nothing.
/// </remarks>
public static class EdmPreconditioning
{
    /// <summary>c_in(σ) = 1/sqrt(σ² + σ_data²).</summary>
    public static double CIn(double sigma, double sigmaData) => 1 / Math.Sqrt(sigma * sigma + sigmaData * sigmaData);

    /// <summary>c_skip(σ) = σ_data²/(σ² + σ_data²).</summary>
    public static double CSkip(double sigma, double sigmaData) => sigmaData * sigmaData / (sigma * sigma + sigmaData * sigmaData);

    /// <summary>c_out(σ) = σ·σ_data/sqrt(σ² + σ_data²), negated for <see cref="PredictionType.VPrediction"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A prediction type EDM does not have (sample, flow_prediction).</exception>
    public static double COut(double sigma, double sigmaData, PredictionType type) =>
        Sign(type) * sigma * sigmaData / Math.Sqrt(sigma * sigma + sigmaData * sigmaData);

    /// <summary>c_noise(σ) = ln(σ)/4: the timestep the network is given.</summary>
    public static double CNoise(double sigma) => 0.25 * Math.Log(sigma);

    /// <summary>λ(σ) = (σ² + σ_data²)/(σ·σ_data)², the loss weight on ||D - x_0||² (eq. 8).</summary>
    public static double LossWeight(double sigma, double sigmaData) =>
        (sigma * sigma + sigmaData * sigmaData) / (sigma * sigmaData * (sigma * sigmaData));

    /// <summary>D = c_skip·x + c_out·F at one noise level for the whole batch (diffusers' <c>precondition_outputs</c>).</summary>
    public static Tensor Denoised(Tensor sample, Tensor modelOutput, double sigma, double sigmaData, PredictionType type)
    {
        using var skip = sample * (float)CSkip(sigma, sigmaData);
        using var scaled = modelOutput * (float)COut(sigma, sigmaData, type);
        return skip + scaled;
    }

    /// <summary>c_in·x with σ per batch item: <paramref name="sigma"/> [B], <paramref name="sample"/> [B, C, ...].</summary>
    public static Tensor ScaledInput(Tensor sample, Tensor sigma, double sigmaData)
    {
        using var s = PerItem(sigma, sample);
        using var cIn = (s.square() + sigmaData * sigmaData).rsqrt();
        return sample * cIn;
    }

    /// <summary>c_noise = ln(σ)/4 per batch item, [B].</summary>
    public static Tensor NoiseInput(Tensor sigma) => sigma.log() * 0.25;

    /// <summary>D = c_skip·x + c_out·F with σ per batch item (training).</summary>
    public static Tensor Denoised(Tensor sample, Tensor modelOutput, Tensor sigma, double sigmaData, PredictionType type)
    {
        using var s = PerItem(sigma, sample);
        using var s2 = s.square() + sigmaData * sigmaData;
        using var cSkip = (sigmaData * sigmaData) / s2;
        using var cOut = s * (Sign(type) * sigmaData) * s2.rsqrt();
        using var skip = cSkip * sample;
        using var scaled = cOut * modelOutput;
        return skip + scaled;
    }

    /// <summary>λ(σ) per batch item, [B].</summary>
    public static Tensor LossWeight(Tensor sigma, double sigmaData)
    {
        using var s2 = sigma.square();
        return (s2 + sigmaData * sigmaData) / (s2 * (sigmaData * sigmaData));
    }

    private static double Sign(PredictionType type) => type switch
    {
        PredictionType.Epsilon => 1.0,
        PredictionType.VPrediction => -1.0,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "EDM's preconditioning takes epsilon or v_prediction"),
    };

    /// <summary>σ [B] viewed as [B, 1, ...] against <paramref name="like"/>.</summary>
    private static Tensor PerItem(Tensor sigma, Tensor like) =>
        sigma.view([sigma.shape[0], .. Enumerable.Repeat(1L, (int)like.dim() - 1)]);
}
