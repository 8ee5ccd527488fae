using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>Size and cost of a UNet2DModel, for <c>diffuse model info</c>.</summary>
/// <param name="ParameterCount">Number of parameters, counted like diffusers' <c>num_parameters()</c>.</param>
/// <param name="ParameterBytes">Bytes the parameters occupy in their current dtype.</param>
/// <param name="WeightDType">Element type of the parameters (the first parameter's, if mixed).</param>
/// <param name="Height">Image height the FLOPs are counted for.</param>
/// <param name="Width">Image width the FLOPs are counted for.</param>
/// <param name="FlopsPerImage">
/// Forward FLOPs per image (2 x multiply-adds) of every convolution, linear layer and attention matmul (QK^T and AV), computed
/// analytically from the layer shapes. Norms, activations, softmax and additions (a few percent) are not counted.
/// </param>
public sealed record ModelStats(long ParameterCount, long ParameterBytes, ScalarType WeightDType, int Height, int Width, long FlopsPerImage)
{
    /// <summary><see cref="FlopsPerImage"/> / 1e9.</summary>
    public double GFlopsPerImage => FlopsPerImage / 1e9;

    /// <summary>Stats of an existing model; the resolution defaults to the config's sample_size.</summary>
    /// <exception cref="ArgumentException">No resolution given and the config has no sample_size.</exception>
    public static ModelStats Of(UNet2DModel model, int? height = null, int? width = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var h = height ?? model.Config.SampleSize ?? throw new ArgumentException("the config has no sample_size: pass a height", nameof(height));
        var w = width ?? h;
        long count = 0, bytes = 0;
        ScalarType? dtype = null;
        foreach (var p in model.parameters())
        {
            count += p.numel();
            bytes += p.numel() * p.element_size();
            dtype ??= p.dtype;
        }
        return new ModelStats(count, bytes, dtype ?? ScalarType.Float32, h, w, model.FlopsPerImage(h, w));
    }

    /// <summary>Stats of a config, measured on a shape-only model on the <c>meta</c> device (no weights allocated).</summary>
    public static ModelStats Of(UNet2DConfig config, int? height = null, int? width = null)
    {
        using var model = new UNet2DModel(config, new Device(TorchSharp.DeviceType.META));
        return Of(model, height, width);
    }
}
