using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// A TorchSharp port of diffusers' (0.30.3) <c>AutoencoderTiny</c>, i.e. TAESD (madebyollin/taesd) in diffusers' layout: a plain
/// conv/ReLU <see cref="TinyEncoder"/> and <see cref="TinyDecoder"/> with deterministic latents, parameter names as diffusers'
/// (<c>encoder.layers.1.conv.0.weight</c>, <c>decoder.layers.18.bias</c>, ...), so the published TAESD folders load.
/// </summary>
public sealed class AutoencoderTiny : nn.Module<Tensor, Tensor>, IAutoencoder
{
    [ComponentName(Name = "encoder")] private readonly TinyEncoder _encoder;
    [ComponentName(Name = "decoder")] private readonly TinyDecoder _decoder;

    /// <summary>Builds a randomly initialised model (PyTorch's default init).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Parameter device; null = CPU; <c>meta</c> for a shape-only model.</param>
    /// <exception cref="InvalidInputException">The config is invalid.</exception>
    public AutoencoderTiny(AutoencoderTinyConfig config, Device? device = null) : base(nameof(AutoencoderTiny))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        _encoder = new TinyEncoder(config, device);
        _decoder = new TinyDecoder(config, device);
        RegisterComponents();
    }

    /// <summary>The architecture and latent scaling.</summary>
    public AutoencoderTinyConfig Config { get; }

    /// <inheritdoc />
    public string ClassName => AutoencoderTinyConfig.ClassName;

    /// <inheritdoc />
    public nn.Module Module => this;

    /// <inheritdoc />
    public Device Device => parameters().First().device;

    /// <inheritdoc />
    public int InChannels => Config.InChannels;

    /// <inheritdoc />
    public int LatentChannels => Config.LatentChannels;

    /// <inheritdoc />
    public int DownsamplingFactor => Config.DownsamplingFactor;

    /// <inheritdoc />
    public string ConfigJson() => Config.ToJson();

    /// <summary>The encoder: image [B, in_channels, H, W] in [-1, 1] to latents [B, latent_channels, H/f, W/f] (unscaled, roughly in ±3).</summary>
    /// <exception cref="ArgumentException">The sample's shape does not fit.</exception>
    public Tensor Encode(Tensor sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.dim() != 4 || sample.shape[1] != Config.InChannels)
            throw new ArgumentException($"sample must be [B, {Config.InChannels}, H, W], got [{string.Join(", ", sample.shape)}]", nameof(sample));
        return _encoder.call(sample);
    }

    /// <summary>The decoder: latents [B, latent_channels, h, w] to the image [B, out_channels, H, W] in about [-1, 1].</summary>
    /// <exception cref="ArgumentException">The latent's shape does not fit.</exception>
    public Tensor Decode(Tensor latents)
    {
        ArgumentNullException.ThrowIfNull(latents);
        if (latents.dim() != 4 || latents.shape[1] != Config.LatentChannels)
            throw new ArgumentException($"latents must be [B, {Config.LatentChannels}, h, w], got [{string.Join(", ", latents.shape)}]", nameof(latents));
        return _decoder.call(latents);
    }

    /// <summary>TAESD's latent-to-[0, 1] map: clamp(x / (2 · latent_magnitude) + latent_shift, 0, 1). Same shape.</summary>
    public Tensor ScaleLatents(Tensor latents)
    {
        ArgumentNullException.ThrowIfNull(latents);
        using var scope = NewDisposeScope();
        return (latents / (2 * Config.LatentMagnitude) + Config.LatentShift).clamp_(0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>The inverse of <see cref="ScaleLatents"/> (inside the clamp): (x − latent_shift) · 2 · latent_magnitude.</summary>
    public Tensor UnscaleLatents(Tensor scaled)
    {
        ArgumentNullException.ThrowIfNull(scaled);
        using var scope = NewDisposeScope();
        return ((scaled - Config.LatentShift) * (2 * Config.LatentMagnitude)).MoveToOuterDisposeScope();
    }

    /// <summary>Scaled latents in [0, 1] to bytes as TAESD stores them: round(x · 255) (half to even, as torch) as uint8.</summary>
    public static Tensor QuantizeLatents(Tensor scaled)
    {
        ArgumentNullException.ThrowIfNull(scaled);
        using var scope = NewDisposeScope();
        return (scaled * 255).round_().to_type(ScalarType.Byte).MoveToOuterDisposeScope();
    }

    /// <summary>diffusers' <c>forward</c>: decode(unscale(quantize(scale(encode(x))) / 255)): the round trip through 8-bit latents.</summary>
    /// <param name="sample">[B, in_channels, H, W] in [-1, 1].</param>
    /// <returns>[B, out_channels, H, W].</returns>
    public override Tensor forward(Tensor sample) => Run(sample, null);

    /// <inheritdoc />
    public Tensor Reconstruct(Tensor sample) => forward(sample);

    /// <inheritdoc />
    /// <remarks>Records <c>encoder</c> (the raw latents) and <c>decoder</c> (the output).</remarks>
    public Tensor Trace(Tensor sample, IDictionary<string, Tensor> intermediates)
    {
        ArgumentNullException.ThrowIfNull(intermediates);
        return Run(sample, (name, t) => intermediates[name] = t.detach().DetachFromDisposeScope());
    }

    /// <inheritdoc />
    /// <remarks>TAESD latents are deterministic: <paramref name="generator"/> is not used.</remarks>
    public Tensor ImageToLatents(Tensor image, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        return ((Encode(image) - Config.ShiftFactor) * Config.ScalingFactor).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    /// <remarks>TAESD latents are deterministic: the std is zero.</remarks>
    public (Tensor Mean, Tensor Std) EncodePosterior(Tensor image)
    {
        var mean = ImageToLatents(image);
        return (mean, zeros_like(mean));
    }

    /// <inheritdoc />
    public Tensor LatentsToImage(Tensor latents)
    {
        ArgumentNullException.ThrowIfNull(latents);
        using var scope = NewDisposeScope();
        return Decode(latents / Config.ScalingFactor + Config.ShiftFactor).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public long EncodeFlops(int height, int width) => _encoder.Flops(height, width).Flops;

    /// <inheritdoc />
    public long DecodeFlops(int height, int width)
    {
        var (_, h, w) = _encoder.Flops(height, width);
        return _decoder.Flops(h, w);
    }

    private Tensor Run(Tensor sample, Action<string, Tensor>? observe)
    {
        using var scope = NewDisposeScope();
        var latents = Encode(sample);
        observe?.Invoke("encoder", latents);
        var bytes = QuantizeLatents(ScaleLatents(latents));
        var output = Decode(UnscaleLatents(bytes.to_type(ScalarType.Float32) / 255.0));
        observe?.Invoke("decoder", output);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads a diffusers AutoencoderTiny folder (<c>config.json</c> + <c>diffusion_pytorch_model.safetensors</c>, or a pipeline folder's
    /// <c>vae/</c>), with the strict checks and float32 conversion of <see cref="AutoencoderKL.FromPretrained"/>. Eval mode.
    /// </summary>
    /// <exception cref="InvalidInputException">Missing files, a pickle checkpoint, a bad config, or weights that do not match it.</exception>
    public static AutoencoderTiny FromPretrained(string folder, Device? device = null)
    {
        var (configPath, weightsPath) = AutoencoderLoader.ResolveFolder(folder);
        var config = AutoencoderTinyConfig.Load(configPath);
        return AutoencoderLoader.LoadWeights(configPath, weightsPath, d => new AutoencoderTiny(config, d), device);
    }

    /// <inheritdoc />
    public void SavePretrained(string folder) => AutoencoderLoader.Save(this, folder, Config.ToJson());
}
