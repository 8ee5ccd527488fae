using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>The Gaussian noise of a stochastic sampler step: the caller's, or drawn on the CPU from the caller's generator.</summary>
public static class StepNoise
{
    /// <summary>
    /// <paramref name="varianceNoise"/> when given (checked against the shape of <paramref name="like"/>), else
    /// <c>randn(like.shape, generator)</c> drawn on the CPU in <paramref name="like"/>'s dtype and moved to its device,
    /// so that a seed gives the same samples on every device.
    /// </summary>
    /// <exception cref="ArgumentException">Both are null, or the noise has the wrong shape.</exception>
    public static Tensor Resolve(Tensor? varianceNoise, Generator? generator, Tensor like)
    {
        if (varianceNoise is not null)
        {
            if (!varianceNoise.shape.SequenceEqual(like.shape))
                throw new ArgumentException(
                    $"variance noise has shape [{string.Join(", ", varianceNoise.shape)}] but the sample has [{string.Join(", ", like.shape)}]",
                    nameof(varianceNoise));
            return varianceNoise;
        }
        if (generator is null)
            throw new ArgumentException("this step adds noise: pass a generator or the variance noise", nameof(generator));
        var noise = randn(like.shape, dtype: like.dtype, generator: generator);
        return like.device.type == DeviceType.CPU ? noise : noise.to(like.device);
    }
}
