using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The timestep state of the samplers that step between integer training timesteps (DDPM, DDIM).</summary>
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
}
