using DiffusionSharp.Models.Blocks;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// diffusers' <c>AutoencoderTinyBlock</c> (TAESD's Block) with equal input and output channels, the only way AutoencoderTiny builds
/// it: relu(conv(act(conv(act(conv(x))))) + x), three 3x3 convs with bias. The final fuse is a ReLU whatever act_fn says.
/// </summary>
public sealed class AutoencoderTinyBlock : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv")] private readonly ModuleList<nn.Module<Tensor, Tensor>> _conv;
    private readonly long _channels;

    internal AutoencoderTinyBlock(long channels, string actFn, Device? device) : base(nameof(AutoencoderTinyBlock))
    {
        _channels = channels;
        // Indices 0, 2, 4 are the convs and 1, 3 the activations, as in diffusers' nn.Sequential (so the keys are conv.0/2/4).
        _conv = new ModuleList<nn.Module<Tensor, Tensor>>(
            Layers.Conv3x3(channels, channels, device), Activation(actFn),
            Layers.Conv3x3(channels, channels, device), Activation(actFn),
            Layers.Conv3x3(channels, channels, device));
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] to [B, C, H, W].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var hidden = input;
        foreach (var layer in _conv) hidden = layer.call(hidden);
        return nn.functional.relu(hidden + input).MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs for an H x W input.</summary>
    internal long Flops(long height, long width) => 3 * Layers.ConvFlops(_channels, _channels, 3, height, width);

    /// <summary>diffusers' <c>get_activation</c> for the names <see cref="AutoencoderTinyConfig.ActFn"/> accepts.</summary>
    internal static nn.Module<Tensor, Tensor> Activation(string actFn) => actFn switch
    {
        "relu" => nn.ReLU(),
        "silu" or "swish" => nn.SiLU(),
        "gelu" => nn.GELU(),
        "mish" => nn.Mish(),
        _ => throw new InvalidInputException($"config: act_fn = \"{actFn}\" is not supported: expected \"relu\", \"silu\", \"swish\", \"gelu\" or \"mish\""),
    };
}
