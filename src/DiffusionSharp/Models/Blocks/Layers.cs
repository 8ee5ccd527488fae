using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>Factories for the layers every block uses, with config errors that name the layer, and FLOP formulas.</summary>
internal static class Layers
{
    /// <summary>
    /// A GroupNorm, after checking that <paramref name="groups"/> divides <paramref name="channels"/>; the error names the layer's
    /// state-dict <paramref name="path"/> and the config <paramref name="key"/> that set the group count.
    /// </summary>
    public static GroupNorm GroupNorm(long channels, int groups, double eps, string path, Device? device, string key = "norm_num_groups")
    {
        if (channels % groups != 0)
        {
            throw new InvalidInputException(
                $"config: {key} = {groups} does not divide the {channels} channels of {path}; every normalised channel count must be a multiple of {key}");
        }
        var norm = nn.GroupNorm(groups, channels, eps, affine: true, device: device);
        // TorchSharp 0.107.0 leaves GroupNorm's affine parameters uninitialised (torch.empty); PyTorch starts them at 1 and 0.
        using (no_grad())
        {
            nn.init.ones_(norm.weight!);
            nn.init.zeros_(norm.bias!);
        }
        return norm;
    }

    /// <summary>A 3x3 convolution with padding 1 (the UNet's workhorse).</summary>
    public static Conv2d Conv3x3(long inChannels, long outChannels, Device? device, long stride = 1, long padding = 1) =>
        nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: padding, device: device);

    /// <summary>FLOPs (2 x multiply-adds) of a convolution producing an <paramref name="outH"/> x <paramref name="outW"/> map.</summary>
    public static long ConvFlops(long inChannels, long outChannels, long kernel, long outH, long outW) =>
        2 * inChannels * outChannels * kernel * kernel * outH * outW;

    /// <summary>
    /// The same [B, C, H, W] values with channels-last strides (C varies fastest), the layout oneDNN's CPU convolutions
    /// work in; a tensor already in it comes back as a view of itself.
    /// </summary>
    public static Tensor ToChannelsLast(Tensor x) => x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>FLOPs of a linear layer applied to <paramref name="tokens"/> vectors.</summary>
    public static long LinearFlops(long inFeatures, long outFeatures, long tokens = 1) => 2 * inFeatures * outFeatures * tokens;
}
