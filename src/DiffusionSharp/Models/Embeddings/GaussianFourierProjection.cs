using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Embeddings;

/// <summary>
/// diffusers' <c>GaussianFourierProjection</c> as UNet2DModel builds it (time_embedding_type "fourier", scale 16, log = true,
/// sin first): x = ln(t); emb = [sin(2 pi x w), cos(2 pi x w)] with a frozen random <c>weight</c>.
/// </summary>
public sealed class GaussianFourierProjection : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private readonly Parameter _weight;

    /// <param name="embeddingSize">Number of frequencies (output width is twice this).</param>
    /// <param name="scale">Standard deviation of the random frequencies.</param>
    /// <param name="device">Parameter device.</param>
    public GaussianFourierProjection(long embeddingSize, double scale = 16.0, Device? device = null) : base("time_proj")
    {
        using (no_grad())
        {
            _weight = new Parameter(randn(embeddingSize, device: device) * scale, requires_grad: false);
        }
        RegisterComponents();
    }

    /// <summary>[B] positive timesteps (noise levels) to [B, 2 x embeddingSize] float32.</summary>
    public override Tensor forward(Tensor timesteps)
    {
        var x = log(timesteps.to_type(ScalarType.Float32));
        var proj = x.unsqueeze(1) * _weight.unsqueeze(0) * 2 * Math.PI;
        return cat([sin(proj), cos(proj)], -1);
    }
}
