using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// The latent distribution an <see cref="AutoencoderKL"/> encoder returns, as diffusers' <c>DiagonalGaussianDistribution</c>:
/// the moments split along channels into mean and log-variance, the log-variance clamped to [-30, 20], std = exp(logvar / 2).
/// Owns its tensors: dispose it (or let the enclosing dispose scope do so).
/// </summary>
public sealed class DiagonalGaussianDistribution : IDisposable
{
    /// <summary>Log-variance bounds diffusers clamps to (keeps exp() finite and the std above ~3e-7).</summary>
    public const double LogVarMin = -30.0, LogVarMax = 20.0;

    /// <param name="parameters">[B, 2C, h, w]: mean in the first C channels, log-variance in the last C. Not disposed by this object.</param>
    public DiagonalGaussianDistribution(Tensor parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.dim() < 2 || parameters.shape[1] % 2 != 0)
            throw new ArgumentException($"parameters must be [B, 2C, ...], got [{string.Join(", ", parameters.shape)}]", nameof(parameters));
        var chunks = parameters.chunk(2, 1);
        Mean = chunks[0];
        LogVar = chunks[1].clamp(LogVarMin, LogVarMax);
        chunks[1].Dispose();
        Std = (LogVar * 0.5).exp_();
        Var = LogVar.exp();
    }

    /// <summary>[B, C, h, w] mean (a view of the parameters).</summary>
    public Tensor Mean { get; }

    /// <summary>[B, C, h, w] log-variance, clamped to [<see cref="LogVarMin"/>, <see cref="LogVarMax"/>].</summary>
    public Tensor LogVar { get; }

    /// <summary>[B, C, h, w] standard deviation exp(logvar / 2).</summary>
    public Tensor Std { get; }

    /// <summary>[B, C, h, w] variance exp(logvar).</summary>
    public Tensor Var { get; }

    /// <summary>The distribution's mode, its mean (what diffusers' <c>forward</c> decodes by default): a fresh [B, C, h, w] tensor.</summary>
    public Tensor Mode() => Mean.clone();

    /// <summary>z = mean + std · ε with ε ~ N(0, I) drawn on the CPU from <paramref name="generator"/>, so a seed gives the same z on every device.</summary>
    /// <returns>[B, C, h, w], a fresh tensor.</returns>
    public Tensor Sample(Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        using var scope = NewDisposeScope();
        var noise = randn(Mean.shape, dtype: ScalarType.Float32, device: CPU, generator: generator).to(Mean.dtype, Mean.device);
        return Sample(noise).MoveToOuterDisposeScope();
    }

    /// <summary>z = mean + std · <paramref name="noise"/> for a given standard-normal <paramref name="noise"/> [B, C, h, w].</summary>
    public Tensor Sample(Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        if (!noise.shape.SequenceEqual(Mean.shape))
            throw new ArgumentException($"noise must be [{string.Join(", ", Mean.shape)}], got [{string.Join(", ", noise.shape)}]", nameof(noise));
        return Mean + Std * noise;
    }

    /// <summary>KL(N(mean, var) || N(0, I)) per batch item: 0.5 · Σ (mean² + var − 1 − logvar) over all but the batch axis, [B].</summary>
    public Tensor KlToStandardNormal()
    {
        using var scope = NewDisposeScope();
        var dims = Enumerable.Range(1, (int)Mean.dim() - 1).Select(d => (long)d).ToArray();
        return ((Mean.square() + Var - 1.0 - LogVar).sum(dims) * 0.5).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Mean.Dispose();
        LogVar.Dispose();
        Std.Dispose();
        Var.Dispose();
    }
}
