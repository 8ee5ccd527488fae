using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// An image autoencoder for latent diffusion (<see cref="AutoencoderKL"/>, <see cref="AutoencoderTiny"/>): images [B, C, H, W] in
/// [-1, 1] to latents [B, latent_channels, H/f, W/f] and back, f = <see cref="DownsamplingFactor"/>.
/// </summary>
public interface IAutoencoder : IDisposable
{
    /// <summary>diffusers' <c>_class_name</c>.</summary>
    string ClassName { get; }

    /// <summary>The network, for parameters, train/eval and state dicts.</summary>
    nn.Module Module { get; }

    /// <summary>Where the parameters live.</summary>
    Device Device { get; }

    /// <summary>Image channels the encoder takes.</summary>
    int InChannels { get; }

    /// <summary>Channels of a latent.</summary>
    int LatentChannels { get; }

    /// <summary>Image size / latent size along H and W.</summary>
    int DownsamplingFactor { get; }

    /// <summary>The config as diffusers writes it.</summary>
    string ConfigJson();

    /// <summary>diffusers' <c>forward(sample)</c>: encode, then decode (the mode for a KL VAE; the uint8-quantised latents for TAESD).</summary>
    /// <param name="sample">[B, in_channels, H, W] float32 in [-1, 1].</param>
    /// <returns>[B, out_channels, H, W], a fresh tensor.</returns>
    Tensor Reconstruct(Tensor sample);

    /// <summary>
    /// <see cref="Reconstruct"/>, also recording the outputs of the top-level modules (keys as the golden <c>intermediate.*</c> tensors,
    /// e.g. <c>encoder.mid_block</c>). The caller owns the recorded tensors.
    /// </summary>
    Tensor Trace(Tensor sample, IDictionary<string, Tensor> intermediates);

    /// <summary>
    /// Image to the latent a diffusion model sees: z = (encode(image) − shift_factor) · scaling_factor, with encode = the posterior's
    /// sample drawn from <paramref name="generator"/> (its mode when null) for a KL VAE, the encoder output for TAESD.
    /// </summary>
    /// <param name="image">[B, in_channels, H, W] in [-1, 1], H and W divisible by <see cref="DownsamplingFactor"/>.</param>
    /// <param name="generator">CPU generator for the posterior sample; null = the mode (deterministic).</param>
    /// <returns>[B, latent_channels, H/f, W/f].</returns>
    Tensor ImageToLatents(Tensor image, Generator? generator = null);

    /// <summary>
    /// The posterior over the latent a diffusion model sees, as (mean, std) of z = (encode(image) − shift_factor) · scaling_factor:
    /// for a KL VAE mean = (μ − shift_factor) · scaling_factor and std = σ · scaling_factor, so mean + std · ε is
    /// <see cref="ImageToLatents"/>'s sample; TAESD's encoder is deterministic (std = 0).
    /// </summary>
    /// <param name="image">[B, in_channels, H, W] in [-1, 1], H and W divisible by <see cref="DownsamplingFactor"/>.</param>
    /// <returns>Two fresh [B, latent_channels, H/f, W/f] tensors.</returns>
    (Tensor Mean, Tensor Std) EncodePosterior(Tensor image);

    /// <summary>The inverse of <see cref="ImageToLatents"/>: decode(z / scaling_factor + shift_factor).</summary>
    /// <param name="latents">[B, latent_channels, h, w].</param>
    /// <returns>[B, out_channels, h·f, w·f], nominally in [-1, 1] (not clamped).</returns>
    Tensor LatentsToImage(Tensor latents);

    /// <summary>Encoder FLOPs (2 x multiply-adds of convs, linears and attention matmuls) for one H x W image.</summary>
    long EncodeFlops(int height, int width);

    /// <summary>Decoder FLOPs for the latent of one H x W image (H, W are the image's size).</summary>
    long DecodeFlops(int height, int width);

    /// <summary>Writes <c>config.json</c> and <c>diffusion_pytorch_model.safetensors</c> into <paramref name="folder"/>, each atomically.</summary>
    void SavePretrained(string folder);
}
