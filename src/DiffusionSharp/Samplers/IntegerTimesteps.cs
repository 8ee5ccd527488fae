using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>The timestep state of the samplers that step between integer training timesteps (DDPM, DDIM), and their forward process.</summary>
internal sealed class IntegerTimesteps
{
    private readonly int _numTrainTimesteps;
    private int _numInferenceSteps;

    public IntegerTimesteps(int numTrainTimesteps) => _numTrainTimesteps = numTrainTimesteps;

    /// <summary>The descending timesteps of the current run; empty before <see cref="Set"/>.</summary>
    public IReadOnlyList<double> Values { get; private set; } = [];

    /// <summary>diffusers' <c>set_timesteps(n)</c>, checked to stay inside the training range.</summary>
    public void Set(TimestepSpacing spacing, int numInferenceSteps, int stepsOffset)
    {
        var timesteps = TimestepSpacings.Integer(spacing, _numTrainTimesteps, numInferenceSteps, stepsOffset);
        long first = timesteps.Max();
        if (first >= _numTrainTimesteps)
            throw new InvalidInputException(
                $"steps_offset: {stepsOffset} moves timestep {first} past the last training timestep {_numTrainTimesteps - 1} for {numInferenceSteps} steps");
        _numInferenceSteps = numInferenceSteps;
        Values = Array.ConvertAll(timesteps, t => (double)t);
    }

    /// <summary>
    /// The table index of a timestep passed to <c>Step</c>, and diffusers' previous timestep t - T // N. That is the next
    /// element of leading and trailing timesteps, but not always of linspace ones (999 → 899 where linspace continues
    /// with 888); diffusers' DDPM and DDIM step that way and so do we. Negative past t = 0.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="Set"/> was not called.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Not an integer in [0, T-1].</exception>
    public (int T, int PrevT) Locate(double timestep)
    {
        if (_numInferenceSteps == 0) throw new InvalidOperationException("call SetTimesteps before Step");
        if (timestep != Math.Floor(timestep) || timestep < 0 || timestep >= _numTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"expected an integer timestep in [0, {_numTrainTimesteps - 1}]");
        int t = (int)timestep;
        return (t, t - _numTrainTimesteps / _numInferenceSteps);
    }

    /// <summary>diffusers' previous timestep of the step from <c>Values[index]</c>: t - T // N, negative past t = 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not an index of <see cref="Values"/>.</exception>
    public double Previous(int index)
    {
        CheckIndex(index, nameof(index));
        return Values[index] - _numTrainTimesteps / _numInferenceSteps;
    }

    /// <summary>Checks an index of <see cref="Values"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not an index of the current run.</exception>
    public void CheckIndex(int index, string parameter)
    {
        if (index < 0 || index >= Values.Count)
            throw new ArgumentOutOfRangeException(parameter, index, $"expected an index of the {Values.Count} timesteps (call SetTimesteps first)");
    }

    /// <summary>
    /// q(x_t | x_0) sampled with the given noise, sqrt(ᾱ_t)·x_0 + sqrt(1 - ᾱ_t)·noise (Ho et al. 2020, eq. 4), with float32
    /// scales of each batch item's integer timestep: diffusers' <c>add_noise</c> of the integer-timestep samplers.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A timestep that is not an integer in [0, T-1].</exception>
    public static Tensor AddNoise(NoiseSchedule schedule, Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps)
    {
        var alphas = new float[timesteps.Count];
        var sigmas = new float[timesteps.Count];
        for (int b = 0; b < alphas.Length; b++)
        {
            double t = timesteps[b];
            if (t != Math.Floor(t) || t < 0 || t >= schedule.NumTrainTimesteps)
                throw new ArgumentOutOfRangeException(nameof(timesteps), t, $"expected integer timesteps in [0, {schedule.NumTrainTimesteps - 1}]");
            float alphaBar = schedule.AlphasCumprod[(int)t];
            alphas[b] = MathF.Sqrt(alphaBar);
            sigmas[b] = MathF.Sqrt(1f - alphaBar);
        }
        var shape = new long[originalSamples.dim()];
        Array.Fill(shape, 1L);
        shape[0] = alphas.Length;
        using var a = tensor(alphas, shape, device: originalSamples.device);
        using var s = tensor(sigmas, shape, device: originalSamples.device);
        return a * originalSamples + s * noise;
    }
}
