using DiffusionSharp.Models;

namespace DiffusionSharp.Training;

/// <summary>
/// An exponential moving average of a network's weights, kept in a second network of the same architecture (any <see cref="IDenoiser"/>).
/// The decay ramps as min(decay, (1 + n)/(10 + n)) after n updates, as diffusers' EMAModel does without warm-up power.
/// </summary>
public sealed class ExponentialMovingAverage : IDisposable
{
    private readonly WeightAverage _average;

    public ExponentialMovingAverage(IDenoiser live, double maxDecay)
    {
        MaxDecay = maxDecay;
        Model = live.CreateEmpty();
        _average = new WeightAverage(live.Module, Model.Module);
    }

    /// <summary>The averaged model (eval mode, no gradients).</summary>
    public IDenoiser Model { get; }

    /// <summary>The decay ceiling.</summary>
    public double MaxDecay { get; }

    /// <summary>The decay used for update number <paramref name="updates"/> (1-based).</summary>
    public double DecayAt(long updates) => WeightAverage.DecayAt(updates, MaxDecay);

    /// <summary>ema = decay·ema + (1 - decay)·live for every weight and buffer.</summary>
    public void Update(long updates) => _average.Update(DecayAt(updates));

    public void Dispose() => Model.Dispose();
}
