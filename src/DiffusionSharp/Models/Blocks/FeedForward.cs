using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>FeedForward</c> with <c>activation_fn="geglu"</c>: <c>net.0</c> = <see cref="GEGLU"/> (C to 4C), <c>net.1</c> =
/// dropout, <c>net.2</c> = Linear (4C to C). The dropout keeps its list slot so the state-dict indices are diffusers'.
/// </summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "net")] private readonly ModuleList<nn.Module<Tensor, Tensor>> _net;
    private readonly long _dim;

    internal FeedForward(string path, long dim, double dropout, Device? device) : base(path)
    {
        _dim = dim;
        _net = new ModuleList<nn.Module<Tensor, Tensor>>(
            new GEGLU(path + ".net.0", dim, 4 * dim, device), nn.Dropout(dropout), nn.Linear(4 * dim, dim, device: device));
        RegisterComponents();
    }

    /// <summary>[B, N, C] to [B, N, C].</summary>
    public override Tensor forward(Tensor input) => _net[2].call(_net[1].call(_net[0].call(input)));

    /// <summary>FLOPs for <paramref name="tokens"/> tokens.</summary>
    internal long Flops(long tokens) => Layers.LinearFlops(_dim, 8 * _dim, tokens) + Layers.LinearFlops(4 * _dim, _dim, tokens);
}
