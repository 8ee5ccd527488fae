using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// The arithmetic of an exponential moving average of weights, for any pair of modules of one architecture: the averaged copy
/// (eval mode, no gradients) follows the live one through ema = decay·ema + (1 − decay)·live, key by key over the state dict.
/// Shared by the U-Net trainer's <see cref="ExponentialMovingAverage"/> and the <see cref="VaeTrainer"/>.
/// </summary>
internal sealed class WeightAverage
{
    private readonly (Tensor Ema, Tensor Live, bool Floating)[] _pairs;

    /// <summary>Copies <paramref name="live"/>'s weights into <paramref name="average"/> and pairs their state-dict entries.</summary>
    public WeightAverage(nn.Module live, nn.Module average)
    {
        average.load_state_dict(live.state_dict());
        average.eval();
        foreach (var p in average.parameters()) p.requires_grad = false;
        var emaState = average.state_dict();
        var liveState = live.state_dict();
        _pairs = emaState.Keys.Select(k => (emaState[k], liveState[k], emaState[k].is_floating_point())).ToArray();
    }

    /// <summary>min(maxDecay, (1 + n)/(10 + n)) after n updates, as diffusers' EMAModel without warm-up power; 0 before the first.</summary>
    public static double DecayAt(long updates, double maxDecay) => updates <= 0 ? 0 : Math.Min(maxDecay, (1.0 + updates) / (10.0 + updates));

    /// <summary>ema = decay·ema + (1 - decay)·live for every floating weight and buffer; integer buffers are copied.</summary>
    public void Update(double decay)
    {
        using var _ = torch.no_grad();
        // lerp_ makes a result handle on every call: without a scope they would wait for the finalizer, every step.
        using var scope = torch.NewDisposeScope();
        // lerp_ takes its weight as a tensor: made once here (the same conversion a double argument gets), not once per weight.
        using Tensor weight = 1 - decay;
        foreach (var (ema, live, floating) in _pairs)
        {
            if (floating) ema.lerp_(live, weight);
            else ema.copy_(live);
        }
    }
}
