using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The state the sigma-based samplers (Euler, Euler ancestral, Heun, DPM-Solver++, UniPC) share: the timesteps of a run,
/// their float32 sigmas (one more than the timesteps: the final sigma), and diffusers' step-index counter, which
/// starts from the first timestep the loop passes (or from <see cref="BeginIndex"/>) and then counts calls, so
/// repeated timesteps (Heun) are fine.
/// </summary>
internal sealed class SigmaTimeline
{
    public SigmaTimeline(double[] timesteps, float[] sigmas)
    {
        Timesteps = timesteps;
        Sigmas = sigmas;
    }

    public double[] Timesteps { get; }

    public float[] Sigmas { get; }

    public int? StepIndex { get; private set; }

    public int? BeginIndex { get; set; }

    /// <summary>
    /// The position of <paramref name="timestep"/>: the second occurrence when it appears more than once, so that a
    /// run started in the middle of a schedule (image-to-image) never skips a sigma. Timesteps are compared in float32,
    /// as diffusers compares a Python float with its float32 (or int64) timestep tensor: 630.9474 finds the stored
    /// 630.94739 of 20 linspace steps.
    /// </summary>
    /// <param name="timestep">A timestep value.</param>
    /// <param name="missingIsLast">DPM-Solver treats an unknown timestep as the last step; Euler-type samplers reject it.</param>
    public int IndexFor(double timestep, bool missingIsLast)
    {
        float wanted = (float)timestep;
        int first = -1;
        for (int i = 0; i < Timesteps.Length; i++)
        {
            if ((float)Timesteps[i] != wanted) continue;
            if (first >= 0) return i;
            first = i;
        }
        if (first >= 0) return first;
        if (missingIsLast) return Timesteps.Length - 1;
        throw new ArgumentException($"timestep {timestep} is not one of the scheduler's timesteps (call SetTimesteps, then pass its values)", nameof(timestep));
    }

    /// <summary>The current step index, initialised from the first timestep seen (or the begin index).</summary>
    public int Current(double timestep, bool missingIsLast)
    {
        StepIndex ??= BeginIndex ?? IndexFor(timestep, missingIsLast);
        if (StepIndex >= Timesteps.Length)
            throw new InvalidOperationException($"all {Timesteps.Length} steps have been taken; call SetTimesteps to start a new run");
        return StepIndex.Value;
    }

    public void Advance() => StepIndex++;

    /// <summary>The timestep the step from <c>Timesteps[index]</c> lands on: the next one, or -1 past the last.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not an index of <see cref="Timesteps"/>.</exception>
    public double Previous(int index)
    {
        if (index < 0 || index >= Timesteps.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"expected an index of the {Timesteps.Length} timesteps");
        return index + 1 < Timesteps.Length ? Timesteps[index + 1] : -1;
    }

    /// <summary>The sigma per batch item for <c>add_noise</c>, shaped [B, 1, 1, 1] for broadcasting over a [B, C, H, W] sample.</summary>
    public Tensor BatchSigmas(IReadOnlyList<double> timesteps, bool missingIsLast, Tensor like)
    {
        var values = new float[timesteps.Count];
        for (int b = 0; b < values.Length; b++)
        {
            // during a run (inpainting) diffusers uses the current step; before it (image-to-image), the begin index
            int index = BeginIndex is null ? IndexFor(timesteps[b], missingIsLast) : StepIndex ?? BeginIndex.Value;
            values[b] = Sigmas[index];
        }
        var shape = new long[like.dim()];
        Array.Fill(shape, 1L);
        shape[0] = values.Length;
        return tensor(values, dtype: ScalarType.Float32).reshape(shape).to(like.device);
    }
}
