using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks1D;

/// <summary>
/// diffusers' <c>SelfAttention1d</c>: GroupNorm(1), per-position tokens, <c>query</c>/<c>key</c>/<c>value</c> linears, C/32 heads,
/// softmax(q k^T / sqrt(head_dim)) v (diffusers scales q and k by head_dim^-1/4 each: the same product), <c>proj_attn</c>, plus the input.
/// The parameter names are the legacy ones diffusers keeps for this block (no renaming to <c>to_q</c>).
/// </summary>
public sealed class SelfAttention1D : nn.Module<Tensor, Tensor>
{
    /// <summary>Channels per head diffusers' 1-D blocks assume (heads = channels / 32).</summary>
    public const int ChannelsPerHead = 32;

    [ComponentName(Name = "group_norm")] private readonly GroupNorm _groupNorm;
    [ComponentName(Name = "query")] private readonly Linear _query;
    [ComponentName(Name = "key")] private readonly Linear _key;
    [ComponentName(Name = "value")] private readonly Linear _value;
    [ComponentName(Name = "proj_attn")] private readonly Linear _projAttn;

    private readonly long _channels;
    private readonly long _heads;

    /// <param name="path">State-dict path, for error messages.</param>
    /// <param name="channels">Channels C; C / 32 heads, which must divide C.</param>
    /// <param name="device">Parameter device.</param>
    internal SelfAttention1D(string path, long channels, Device? device) : base(path)
    {
        _channels = channels;
        _heads = channels / ChannelsPerHead;
        if (_heads < 1 || channels % _heads != 0)
        {
            throw new InvalidInputException(
                $"config: the attention {path} has {channels} channels; diffusers' SelfAttention1d needs at least {ChannelsPerHead} channels and channels / {ChannelsPerHead} heads that divide them (check block_out_channels)");
        }
        _groupNorm = Layers.GroupNorm(channels, 1, 1e-5, path + ".group_norm", device);
        _query = nn.Linear(channels, channels, device: device);
        _key = nn.Linear(channels, channels, device: device);
        _value = nn.Linear(channels, channels, device: device);
        _projAttn = nn.Linear(channels, channels, device: device);
        RegisterComponents();
    }

    /// <summary>[B, C, L] to [B, C, L].</summary>
    public override Tensor forward(Tensor input)
    {
        var b = input.shape[0];
        var length = input.shape[2];
        using var scope = NewDisposeScope();
        var x = _groupNorm.call(input).transpose(1, 2);
        var q = SplitHeads(_query.call(x), b);
        var k = SplitHeads(_key.call(x), b);
        var v = SplitHeads(_value.call(x), b);
        var attended = SmallHeadAttention.Attend(q, k, v).transpose(1, 2).reshape(b, length, _channels);
        return (_projAttn.call(attended).transpose(1, 2) + input).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor t, long batch) => t.view(batch, -1, _heads, _channels / _heads).transpose(1, 2);

    /// <summary>FLOPs for one sample of length <paramref name="length"/>: four projections plus QK^T and AV.</summary>
    internal long Flops(long length) => 4 * Layers.LinearFlops(_channels, _channels, length) + 2 * (2 * length * length * _channels);
}
