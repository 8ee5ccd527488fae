using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Embeddings;

/// <summary>
/// diffusers' <c>GaussianFourierProjection</c>: x = ln(t) (or t itself without <c>log</c>); emb = [sin(2 pi x w), cos(2 pi x w)]
/// (cos first with <c>flip_sin_to_cos</c>) with a frozen random <c>weight</c>. UNet2DModel builds it with scale 16, log, sin first;
/// UNet1DModel with 8 frequencies, scale 1, no log, cos first.
/// </summary>
public sealed class GaussianFourierProjection : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private readonly Parameter _weight;
    private readonly bool _log;
    private readonly bool _flipSinToCos;

    /// <param name="embeddingSize">Number of frequencies (output width is twice this).</param>
    /// <param name="scale">Standard deviation of the random frequencies.</param>
    /// <param name="device">Parameter device.</param>
    /// <param name="log">Take ln(t) first (UNet2DModel) or use t as it is (UNet1DModel).</param>
    /// <param name="flipSinToCos">Put the cosines first.</param>
    public GaussianFourierProjection(long embeddingSize, double scale = 16.0, Device? device = null, bool log = true, bool flipSinToCos = false)
        : base("time_proj")
    {
        _log = log;
        _flipSinToCos = flipSinToCos;
        using (no_grad())
        {
            _weight = new Parameter(randn(embeddingSize, device: device) * scale, requires_grad: false);
        }
        RegisterComponents();
    }

    /// <summary>[B] positive timesteps (noise levels) to [B, 2 x embeddingSize] float32.</summary>
    public override Tensor forward(Tensor timesteps)
    {
        var x = timesteps.to_type(ScalarType.Float32);
        if (_log) x = log(x);
        var proj = x.unsqueeze(1) * _weight.unsqueeze(0) * 2 * Math.PI;
        return _flipSinToCos ? cat([cos(proj), sin(proj)], -1) : cat([sin(proj), cos(proj)], -1);
    }
}
