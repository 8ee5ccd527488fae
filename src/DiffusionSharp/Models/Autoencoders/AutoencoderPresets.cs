namespace DiffusionSharp.Models.Autoencoders;

/// <summary>Named autoencoder architectures, looked up by name (e.g. by the CLI's model option and the VAE trainer).</summary>
public static class AutoencoderPresets
{
    /// <summary>
    /// <c>kl-rgb64-f4</c>: an <see cref="AutoencoderKL"/> for 64x64 RGB images with 4x downsampling to 16x16x4 latents (a 12:1
    /// compression of the 64·64·3 values), the small VAE for latent diffusion on 64x64 data. Three levels of (32, 64, 128) channels
    /// (64x64, 32x32, 16x16), one resnet per encoder level and two per decoder level, GroupNorm of 32 groups, single-head attention
    /// over the 256 latent positions in both mid blocks. scaling_factor is 1 until a trained model's latents are measured
    /// (SD sets it to 1 / std of its latents).
    /// </summary>
    public static AutoencoderKLConfig KLRgb64 { get; } = new()
    {
        InChannels = 3,
        OutChannels = 3,
        BlockOutChannels = [32, 64, 128],
        LayersPerBlock = 1,
        LatentChannels = 4,
        NormNumGroups = 32,
        SampleSize = 64,
        ScalingFactor = 1.0,
        ForceUpcast = false,
    };

    /// <summary>
    /// <c>sd-vae</c>: the KL-f8 autoencoder of Stable Diffusion 1.x/2.x (<c>vae/config.json</c> of runwayml/stable-diffusion-v1-5):
    /// four levels of (128, 256, 512, 512) channels, two resnets per encoder level, 512x512x3 images to 64x64x4 latents,
    /// scaling_factor 0.18215. 83,653,863 parameters.
    /// </summary>
    public static AutoencoderKLConfig StableDiffusion { get; } = new()
    {
        InChannels = 3,
        OutChannels = 3,
        BlockOutChannels = [128, 256, 512, 512],
        LayersPerBlock = 2,
        LatentChannels = 4,
        NormNumGroups = 32,
        SampleSize = 512,
        ScalingFactor = 0.18215,
    };

    /// <summary>Preset names, in the order they should be listed.</summary>
    public static IReadOnlyList<string> Names { get; } = ["kl-rgb64-f4", "sd-vae"];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="InvalidInputException">No such preset; the message lists the available ones.</exception>
    public static AutoencoderKLConfig Get(string name) => name?.ToLowerInvariant() switch
    {
        "kl-rgb64-f4" => KLRgb64,
        "sd-vae" => StableDiffusion,
        _ => throw new InvalidInputException($"autoencoder preset '{name}' is unknown: expected one of {string.Join(", ", Names)}"),
    };
}
