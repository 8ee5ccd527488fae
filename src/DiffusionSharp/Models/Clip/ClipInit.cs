using static TorchSharp.torch;

namespace DiffusionSharp.Models.Clip;

/// <summary>transformers' <c>CLIPPreTrainedModel._init_weights</c> for the text tower: normal weights of a given std, zero biases.</summary>
internal static class ClipInit
{
    /// <summary>Fills <paramref name="weight"/> with N(0, std²) drawn from <paramref name="generator"/> (CPU), and zeroes <paramref name="bias"/>.</summary>
    public static void Normal(Tensor weight, Tensor? bias, double std, Generator? generator)
    {
        if (weight.device_type == TorchSharp.DeviceType.META || generator is null) return;
        using var noGrad = no_grad();
        using var drawn = randn(weight.shape, generator: generator);
        using var scaled = drawn * std;
        weight.copy_(scaled);
        bias?.zero_();
    }
}
