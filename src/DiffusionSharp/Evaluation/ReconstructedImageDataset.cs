using DiffusionSharp.Data;
using DiffusionSharp.Models.Autoencoders;
using static TorchSharp.torch;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// A dataset's images as an autoencoder gives them back (encode, then decode the mode; clamped to [-1, 1]). For the
/// memorisation check of a latent model: its samples are decoded latents, so a sample that reproduces a training image's
/// latent is a copy of the VAE's reconstruction of that image, which can be far from its pixels when the VAE blurs.
/// </summary>
public sealed class ReconstructedImageDataset : IImageDataset
{
    private readonly IImageDataset _inner;
    private readonly IAutoencoder _vae;

    /// <param name="inner">The training images, [C, H, W] in [-1, 1].</param>
    /// <param name="vae">An autoencoder of the images' channels; the caller keeps ownership.</param>
    /// <exception cref="InvalidInputException">The VAE's input channels or downsampling do not fit the images.</exception>
    public ReconstructedImageDataset(IImageDataset inner, IAutoencoder vae)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(vae);
        if (vae.InChannels != inner.Channels)
            throw new InvalidInputException($"--vae: the autoencoder takes {vae.InChannels}-channel images, the training images have {inner.Channels}");
        if (inner.Height % vae.DownsamplingFactor != 0 || inner.Width % vae.DownsamplingFactor != 0)
            throw new InvalidInputException($"--vae: {inner.Width}x{inner.Height} images are not a multiple of the autoencoder's factor {vae.DownsamplingFactor}");
        (_inner, _vae) = (inner, vae);
    }

    /// <inheritdoc />
    public int Count => _inner.Count;

    /// <inheritdoc />
    public int Channels => _inner.Channels;

    /// <inheritdoc />
    public int Height => _inner.Height;

    /// <inheritdoc />
    public int Width => _inner.Width;

    /// <inheritdoc />
    public int NumClasses => _inner.NumClasses;

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => _inner.ClassNames;

    /// <inheritdoc />
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> samples, Span<long> labels)
    {
        _inner.FillBatch(indices, samples, labels);
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var images = tensor(samples[..(indices.Length * Channels * Height * Width)].ToArray(), [indices.Length, Channels, Height, Width]);
        var back = _vae.Reconstruct(images.to(_vae.Device)).clamp(-1, 1).cpu().contiguous();
        back.data<float>().ToArray().AsSpan().CopyTo(samples);
    }
}
