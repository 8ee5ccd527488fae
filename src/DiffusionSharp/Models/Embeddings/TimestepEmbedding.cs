using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Embeddings;

/// <summary>diffusers' <c>TimestepEmbedding</c>: linear_1, SiLU, linear_2.</summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "linear_1")] private readonly Linear _linear1;
    [ComponentName(Name = "linear_2")] private readonly Linear _linear2;

    /// <param name="name">Module name (its state-dict prefix).</param>
    /// <param name="inChannels">Width of the projected timestep.</param>
    /// <param name="timeEmbedDim">Output width (4 x block_out_channels[0]).</param>
    /// <param name="device">Parameter device.</param>
    public TimestepEmbedding(string name, long inChannels, long timeEmbedDim, Device? device = null) : base(name)
    {
        _linear1 = nn.Linear(inChannels, timeEmbedDim, device: device);
        _linear2 = nn.Linear(timeEmbedDim, timeEmbedDim, device: device);
        RegisterComponents();
    }

    /// <summary>[B, in] to [B, timeEmbedDim].</summary>
    public override Tensor forward(Tensor input) => _linear2.call(F.silu(_linear1.call(input)));

    /// <summary>FLOPs per image.</summary>
    internal long Flops() =>
        2 * (_linear1.in_features * _linear1.out_features + _linear2.in_features * _linear2.out_features);
}
