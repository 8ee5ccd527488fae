using DiffusionSharp.Conditioning;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// A network the diffusion loops train and sample: output = f(sample, timestep, condition). It knows nothing of noise
/// schedules; what its output means (noise, x_0, v, a velocity of flow matching) is the training formulation's business.
/// </summary>
/// <remarks>
/// Shapes are rank-free: a sample is <c>[B, C, ...]</c> (images <c>[B, C, H, W]</c>, audio <c>[B, C, L]</c>, latents
/// <c>[B, 4, h, w]</c>). The signature covers diffusers' networks: <c>UNet2DModel(sample, timestep, class_labels)</c>,
/// <c>UNet1DModel(sample, timestep)</c>, <c>UNet2DConditionModel(sample, timestep, encoder_hidden_states,
/// class_labels, encoder_attention_mask)</c>: the last two travel in the <see cref="Condition"/>. A preconditioned
/// network (EDM's c_in, c_skip, c_out) is an <see cref="IDenoiser"/> that wraps another.
/// </remarks>
public interface IDenoiser : IDisposable
{
    /// <summary>The architecture.</summary>
    IDenoiserConfig Config { get; }

    /// <summary>The TorchSharp module: parameters, state dict, train/eval.</summary>
    nn.Module Module { get; }

    /// <summary>The device the parameters live on.</summary>
    Device Device { get; }

    /// <summary>The network output for a batch.</summary>
    /// <param name="sample">float32 <c>[B, C, ...]</c> on <see cref="Device"/>.</param>
    /// <param name="timestep"><c>[B]</c> or a scalar, int64 (discrete timesteps) or float (noise levels).</param>
    /// <param name="condition">What the batch is conditioned on; <see cref="NoCondition"/> for an unconditional network.</param>
    /// <returns>A fresh <c>[B, out_channels, ...]</c> tensor; the inputs are neither modified nor disposed.</returns>
    /// <exception cref="ArgumentException">The shapes or the condition do not fit the network.</exception>
    Tensor Forward(Tensor sample, Tensor timestep, Condition condition);

    /// <summary>Forward FLOPs (2 x multiply-adds of convolutions, linear layers and attention matmuls) for one sample of <paramref name="sampleShape"/> (<c>[C, ...]</c>).</summary>
    long FlopsPerSample(IReadOnlyList<int> sampleShape);

    /// <summary>Writes the network as a diffusers model folder (<c>config.json</c> and safetensors weights), each file atomically.</summary>
    void SavePretrained(string folder);

    /// <summary>A network of the same architecture on <paramref name="device"/> (null = this one's), its weights freshly initialised.</summary>
    IDenoiser CreateEmpty(Device? device = null);
}
