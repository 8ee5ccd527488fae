using static TorchSharp.torch;

namespace DiffusionSharp.Models.Embeddings;

/// <summary>
/// diffusers' <c>Timesteps</c>: the sinusoidal embedding of "Attention Is All You Need" applied to diffusion timesteps,
/// computed in float32 with the same op order as diffusers' <c>get_timestep_embedding</c>:
/// freq_i = exp(-ln(10000) * i / (half - freq_shift)), emb = [sin(t * freq), cos(t * freq)] (cos first when flipped).
/// No parameters and no cached buffers.
/// </summary>
public sealed class Timesteps : nn.Module<Tensor, Tensor>
{
    private const double MaxPeriod = 10000;
    private readonly long _numChannels;
    private readonly bool _flipSinToCos;
    private readonly double _freqShift;

    /// <param name="numChannels">Embedding width (block_out_channels[0]).</param>
    /// <param name="flipSinToCos">Put the cosines first.</param>
    /// <param name="freqShift">downscale_freq_shift.</param>
    public Timesteps(long numChannels, bool flipSinToCos, double freqShift) : base("time_proj")
    {
        _numChannels = numChannels;
        _flipSinToCos = flipSinToCos;
        _freqShift = freqShift;
        RegisterComponents();
    }

    /// <summary>[B] timesteps (any numeric dtype) to [B, numChannels] float32.</summary>
    public override Tensor forward(Tensor timesteps)
    {
        var half = _numChannels / 2;
        var exponent = arange(0, half, dtype: ScalarType.Float32, device: timesteps.device) * (-Math.Log(MaxPeriod));
        exponent = exponent / (half - _freqShift);
        var args = timesteps.unsqueeze(1).to_type(ScalarType.Float32) * exp(exponent).unsqueeze(0);
        var emb = _flipSinToCos ? cat([cos(args), sin(args)], -1) : cat([sin(args), cos(args)], -1);
        return _numChannels % 2 == 1 ? nn.functional.pad(emb, [0, 1, 0, 0]) : emb;
    }
}
