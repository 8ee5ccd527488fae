using DiffusionSharp.IO;
using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// A TorchSharp port of diffusers' (0.30.3) <c>AutoencoderKL</c>, the VAE of Stable Diffusion: <see cref="VaeEncoder"/> → quant_conv →
/// <see cref="DiagonalGaussianDistribution"/>; z → post_quant_conv → <see cref="VaeDecoder"/>. Parameter names equal diffusers'
/// <c>state_dict</c> keys (<c>encoder.down_blocks.0.resnets.0.conv1.weight</c>, <c>quant_conv.weight</c>, ...), so diffusers folders load.
/// </summary>
public sealed class AutoencoderKL : nn.Module<Tensor, Tensor>, IAutoencoder
{
    [ComponentName(Name = "encoder")] private readonly VaeEncoder _encoder;
    [ComponentName(Name = "decoder")] private readonly VaeDecoder _decoder;
    [ComponentName(Name = "quant_conv")] private readonly Conv2d? _quantConv;
    [ComponentName(Name = "post_quant_conv")] private readonly Conv2d? _postQuantConv;

    /// <summary>Builds a randomly initialised model (PyTorch's default init, as diffusers).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Parameter device; null = CPU; <c>meta</c> for a shape-only model.</param>
    /// <exception cref="InvalidInputException">The config is invalid (e.g. norm_num_groups does not divide a layer's channels).</exception>
    public AutoencoderKL(AutoencoderKLConfig config, Device? device = null) : base(nameof(AutoencoderKL))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        // diffusers' Encoder/Decoder: resnet_eps 1e-6, no time embedding, dropout 0, default (additive) time shift.
        var s = new ResnetSettings(0, 1e-6, config.NormNumGroups, 0.0, ResnetTimeScaleShift.Default, device);
        _encoder = new VaeEncoder(config, s);
        _decoder = new VaeDecoder(config, s);
        var moments = 2L * config.LatentChannels;
        if (config.UseQuantConv) _quantConv = nn.Conv2d(moments, moments, 1, device: device);
        if (config.UsePostQuantConv) _postQuantConv = nn.Conv2d(config.LatentChannels, config.LatentChannels, 1, device: device);
        RegisterComponents();
    }

    /// <summary>The architecture and latent scaling.</summary>
    public AutoencoderKLConfig Config { get; }

    /// <inheritdoc />
    public string ClassName => AutoencoderKLConfig.ClassName;

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

    /// <summary>shift_factor, 0 when the config has none.</summary>
    public double ShiftFactor => Config.ShiftFactor ?? 0.0;

    /// <inheritdoc />
    public string ConfigJson() => Config.ToJson();

    /// <summary>The posterior q(z | x).</summary>
    /// <param name="sample">[B, in_channels, H, W] float32 in [-1, 1].</param>
    /// <returns>The distribution over z [B, latent_channels, H/f, W/f]; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">The sample's shape does not fit.</exception>
    public DiagonalGaussianDistribution Encode(Tensor sample) => EncodeTraced(sample, null);

    /// <summary>The decoder (after post_quant_conv): z [B, latent_channels, h, w] to the image [B, out_channels, h·f, w·f].</summary>
    /// <exception cref="ArgumentException">The latent's shape does not fit.</exception>
    public Tensor Decode(Tensor z) => DecodeTraced(z, null);

    /// <summary>diffusers' <c>forward(sample)</c>: decode(encode(sample).mode()). [B, C, H, W] to [B, out_channels, H, W].</summary>
    public override Tensor forward(Tensor sample) => Run(sample, null);

    /// <inheritdoc />
    public Tensor Reconstruct(Tensor sample) => forward(sample);

    /// <inheritdoc />
    public Tensor Trace(Tensor sample, IDictionary<string, Tensor> intermediates)
    {
        ArgumentNullException.ThrowIfNull(intermediates);
        return Run(sample, (name, t) => intermediates[name] = t.detach().DetachFromDisposeScope());
    }

    /// <summary>Multiplies unscaled latents for diffusion: (z − shift_factor) · scaling_factor.</summary>
    public Tensor ScaleLatents(Tensor z)
    {
        ArgumentNullException.ThrowIfNull(z);
        return (z - ShiftFactor) * Config.ScalingFactor;
    }

    /// <summary>The inverse of <see cref="ScaleLatents"/>: latents / scaling_factor + shift_factor (what pipelines do before <see cref="Decode"/>).</summary>
    public Tensor UnscaleLatents(Tensor latents)
    {
        ArgumentNullException.ThrowIfNull(latents);
        return latents / Config.ScalingFactor + ShiftFactor;
    }

    /// <inheritdoc />
    public Tensor ImageToLatents(Tensor image, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        using var posterior = Encode(image);
        var z = generator is null ? posterior.Mode() : posterior.Sample(generator);
        return ScaleLatents(z).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public (Tensor Mean, Tensor Std) EncodePosterior(Tensor image)
    {
        using var scope = NewDisposeScope();
        using var posterior = Encode(image);
        return (ScaleLatents(posterior.Mean).MoveToOuterDisposeScope(), (posterior.Std * Config.ScalingFactor).MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public Tensor LatentsToImage(Tensor latents)
    {
        using var scope = NewDisposeScope();
        return Decode(UnscaleLatents(latents)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public long EncodeFlops(int height, int width)
    {
        var (flops, h, w) = _encoder.Flops(height, width);
        var moments = 2L * Config.LatentChannels;
        return flops + (_quantConv is null ? 0 : Layers.ConvFlops(moments, moments, 1, h, w));
    }

    /// <inheritdoc />
    public long DecodeFlops(int height, int width)
    {
        var (_, h, w) = _encoder.Flops(height, width);
        long c = Config.LatentChannels;
        return _decoder.Flops(h, w) + (_postQuantConv is null ? 0 : Layers.ConvFlops(c, c, 1, h, w));
    }

    private Tensor Run(Tensor sample, Action<string, Tensor>? observe)
    {
        using var scope = NewDisposeScope();
        using var posterior = EncodeTraced(sample, observe);
        return DecodeTraced(posterior.Mean, observe).MoveToOuterDisposeScope();
    }

    private DiagonalGaussianDistribution EncodeTraced(Tensor sample, Action<string, Tensor>? observe)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.dim() != 4 || sample.shape[1] != Config.InChannels)
        {
            throw new ArgumentException($"sample must be [B, {Config.InChannels}, H, W], got [{string.Join(", ", sample.shape)}]", nameof(sample));
        }
        using var scope = NewDisposeScope();
        var moments = _encoder.Run(sample, observe);
        if (_quantConv is not null)
        {
            moments = _quantConv.call(moments);
            observe?.Invoke("quant_conv", moments);
        }
        var posterior = new DiagonalGaussianDistribution(moments);
        // Mean is a view of the moments; the view keeps their storage alive when the scope releases the moments' handle.
        foreach (var t in new[] { posterior.Mean, posterior.LogVar, posterior.Std, posterior.Var }) t.MoveToOuterDisposeScope();
        return posterior;
    }

    private Tensor DecodeTraced(Tensor z, Action<string, Tensor>? observe)
    {
        ArgumentNullException.ThrowIfNull(z);
        if (z.dim() != 4 || z.shape[1] != Config.LatentChannels)
        {
            throw new ArgumentException($"z must be [B, {Config.LatentChannels}, h, w], got [{string.Join(", ", z.shape)}]", nameof(z));
        }
        using var scope = NewDisposeScope();
        if (_postQuantConv is not null)
        {
            z = _postQuantConv.call(z);
            observe?.Invoke("post_quant_conv", z);
        }
        return _decoder.Run(z, observe).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads a diffusers AutoencoderKL folder (<c>config.json</c> + <c>diffusion_pytorch_model.safetensors</c>, or a pipeline folder
    /// holding them under <c>vae/</c>). F16/BF16/F64 weights become float32; legacy attention names are renamed as diffusers does;
    /// strict: every missing, unexpected or wrong-shape weight is reported in one error before any weight is copied. Eval mode.
    /// </summary>
    /// <exception cref="InvalidInputException">Missing files, a pickle checkpoint, a bad config, or weights that do not match it.</exception>
    public static AutoencoderKL FromPretrained(string folder, Device? device = null)
    {
        var (configPath, weightsPath) = AutoencoderLoader.ResolveFolder(folder);
        var config = AutoencoderKLConfig.Load(configPath);
        return AutoencoderLoader.LoadWeights(configPath, weightsPath, d => new AutoencoderKL(config, d), device);
    }

    /// <inheritdoc />
    public void SavePretrained(string folder) => AutoencoderLoader.Save(this, folder, Config.ToJson());
}
