using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' spatial self-<c>Attention</c> as the UNet2D blocks build it (<c>_from_deprecated_attn_block=True</c>):
/// optional GroupNorm, per-pixel tokens, multi-head scaled dot-product attention with scale 1/sqrt(head_dim),
/// <c>to_out.0</c> projection, residual connection, division by <c>rescale_output_factor</c>.
/// </summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "group_norm")] private readonly GroupNorm? _groupNorm;
    [ComponentName(Name = "to_q")] private readonly Linear _toQ;
    [ComponentName(Name = "to_k")] private readonly Linear _toK;
    [ComponentName(Name = "to_v")] private readonly Linear _toV;
    [ComponentName(Name = "to_out")] private readonly ModuleList<Linear> _toOut;

    private readonly long _channels;
    private readonly long _heads;
    private readonly long _headDim;
    private readonly double _rescaleOutputFactor;

    /// <param name="path">State-dict path (for error messages).</param>
    /// <param name="channels">Query/output channels C.</param>
    /// <param name="headDim">Channels per head; heads = C / headDim (integer division, as diffusers).</param>
    /// <param name="normGroups">GroupNorm groups, or null for no norm.</param>
    /// <param name="eps">GroupNorm epsilon.</param>
    /// <param name="rescaleOutputFactor">Divisor applied after the residual add.</param>
    /// <param name="device">Parameter device.</param>
    /// <param name="groupsKey">Config key that set <paramref name="normGroups"/>, for the error message.</param>
    internal Attention(string path, long channels, long headDim, int? normGroups, double eps, double rescaleOutputFactor, Device? device,
        string groupsKey = "norm_num_groups") : base(path)
    {
        _channels = channels;
        _headDim = headDim;
        _heads = channels / headDim;
        _rescaleOutputFactor = rescaleOutputFactor;
        var inner = _heads * headDim;
        if (normGroups is int g) _groupNorm = Layers.GroupNorm(channels, g, eps, path + ".group_norm", device, groupsKey);
        _toQ = nn.Linear(channels, inner, device: device);
        _toK = nn.Linear(channels, inner, device: device);
        _toV = nn.Linear(channels, inner, device: device);
        // diffusers' to_out is [Linear, Dropout(0)]; the dropout has no parameters and p = 0, so only the Linear is kept.
        _toOut = nn.ModuleList(nn.Linear(inner, channels, device: device));
        RegisterComponents();
    }

    /// <summary>Number of attention heads.</summary>
    public long Heads => _heads;

    /// <summary>[B, C, H, W] to [B, C, H, W].</summary>
    public override Tensor forward(Tensor input)
    {
        var b = input.shape[0];
        var h = input.shape[2];
        var w = input.shape[3];
        // Temporaries (normed input, q, k, v, attended) are released on return, as in ResnetBlock2D.
        using var scope = NewDisposeScope();
        var x = _groupNorm is null ? input : _groupNorm.call(input);
        x = x.reshape(b, _channels, h * w).transpose(1, 2);

        var q = SplitHeads(_toQ.call(x), b);
        var k = SplitHeads(_toK.call(x), b);
        var v = SplitHeads(_toV.call(x), b);
        var attended = SmallHeadAttention.Attend(q, k, v);
        attended = attended.transpose(1, 2).reshape(b, h * w, _heads * _headDim);
        var output = _toOut[0].call(attended).transpose(1, 2).reshape(b, _channels, h, w) + input;
        return (_rescaleOutputFactor == 1.0 ? output : output / _rescaleOutputFactor).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor t, long batch) => t.view(batch, -1, _heads, _headDim).transpose(1, 2);

    /// <summary>FLOPs per image for an H x W input: q/k/v/out projections plus QK^T and AV.</summary>
    internal long Flops(long height, long width)
    {
        var n = height * width;
        var inner = _heads * _headDim;
        return 3 * Layers.LinearFlops(_channels, inner, n) + Layers.LinearFlops(inner, _channels, n) + 2 * (2 * n * n * inner);
    }
}
