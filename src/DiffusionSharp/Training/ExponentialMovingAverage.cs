using DiffusionSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// An exponential moving average of a network's weights, kept in a second network of the same architecture (any <see cref="IDenoiser"/>).
/// The decay ramps as min(decay, (1 + n)/(10 + n)) after n updates, as diffusers' EMAModel does without warm-up power.
/// </summary>
public sealed class ExponentialMovingAverage : IDisposable
{
    private readonly (Tensor Ema, Tensor Live)[] _pairs;

    public ExponentialMovingAverage(IDenoiser live, double maxDecay)
    {
        MaxDecay = maxDecay;
        Model = live.CreateEmpty();
        Model.Module.load_state_dict(live.Module.state_dict());
        Model.Module.eval();
        foreach (var p in Model.Module.parameters()) p.requires_grad = false;
        var emaState = Model.Module.state_dict();
        var liveState = live.Module.state_dict();
        _pairs = emaState.Keys.Select(k => (emaState[k], liveState[k])).ToArray();
    }

    /// <summary>The averaged model (eval mode, no gradients).</summary>
    public IDenoiser Model { get; }

    /// <summary>The decay ceiling.</summary>
    public double MaxDecay { get; }

    /// <summary>The decay used for update number <paramref name="updates"/> (1-based).</summary>
    public double DecayAt(long updates) => updates <= 0 ? 0 : Math.Min(MaxDecay, (1.0 + updates) / (10.0 + updates));

    /// <summary>ema = decay·ema + (1 - decay)·live for every weight and buffer.</summary>
    public void Update(long updates)
    {
        double decay = DecayAt(updates);
        using var _ = torch.no_grad();
        // lerp_ makes tensors on every call (its weight, its result handle): without a scope they would wait for the finalizer, every step.
        using var scope = torch.NewDisposeScope();
        foreach (var (ema, live) in _pairs)
        {
            if (ema.is_floating_point()) ema.lerp_(live, 1 - decay);
            else ema.copy_(live);
        }
    }

    public void Dispose() => Model.Dispose();
}
