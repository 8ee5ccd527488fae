using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the EDM samplers, <see cref="EDMEulerScheduler"/> and <see cref="EDMDPMSolverMultistepScheduler"/>, share: the
/// variance-exploding path x = x_0 + σ·eps over an <see cref="EdmSchedule"/>'s noise levels, and EDM's preconditioning of a
/// plain network (<see cref="EdmPreconditioning"/>) done here, as diffusers does it: the network is given c_in·x
/// (<see cref="ScaleModelInput"/>) at timestep c_noise = ln(σ)/4 (the <see cref="TimelineScheduler.Timesteps"/>), and its
/// output F becomes D = c_skip·x + c_out·F. x_T has standard deviation sqrt(σ_max² + 1) (diffusers' rule). Before
/// <see cref="TimelineScheduler.SetTimesteps"/> the run is the constructor's table of T noise levels. Only this library
/// derives from it.
/// </summary>
public abstract class EdmScheduler : TimelineScheduler
{
    /// <param name="schedule">The noise levels, validated here.</param>
    /// <param name="predictionType">epsilon (c_out &gt; 0) or v_prediction (c_out &lt; 0).</param>
    /// <exception cref="InvalidInputException">A value is out of range, or another prediction type.</exception>
    private protected EdmScheduler(EdmSchedule schedule, PredictionType predictionType)
    {
        schedule.Validate();
        if (predictionType is not (PredictionType.Epsilon or PredictionType.VPrediction))
            throw new InvalidInputException($"prediction_type '{predictionType.ToDiffusersName()}' is not supported by the EDM schedulers (expected epsilon or v_prediction)");
        EdmSchedule = schedule;
        PredictionType = predictionType;
        StartRunOver(schedule.Sigmas(schedule.NumTrainTimesteps), 0f);
    }

    /// <summary>The noise levels and σ_data (diffusers' config keys).</summary>
    public EdmSchedule EdmSchedule { get; }

    /// <summary>None: EDM has no beta schedule.</summary>
    public override NoiseSchedule? Schedule => null;

    /// <inheritdoc />
    public override PredictionType PredictionType { get; }

    /// <summary>sqrt(σ_max² + 1), diffusers' <c>init_noise_sigma</c> (a Python float).</summary>
    public override double InitNoiseSigma => Math.Sqrt(EdmSchedule.SigmaMax * EdmSchedule.SigmaMax + 1);

    /// <summary>Whether a timestep that is not in the run means the last step (DPM-Solver) or is an error (Euler).</summary>
    private protected abstract bool MissingIsLast { get; }

    /// <summary>c_in·x at the current step's σ (diffusers' <c>precondition_inputs</c>).</summary>
    public override Tensor ScaleModelInput(Tensor sample, double timestep)
    {
        float sigma = Run.Sigmas[Run.Current(timestep, MissingIsLast)];
        return sample * (float)EdmPreconditioning.CIn(sigma, EdmSchedule.SigmaData);
    }

    /// <summary>
    /// The forward process x_0 + σ·noise with σ of each batch item's timestep, or of the current step once a run with a
    /// begin index has started (diffusers' <c>add_noise</c>).
    /// </summary>
    /// <param name="originalSamples">x_0 [B, C, ...].</param>
    /// <param name="noise">eps, same shape.</param>
    /// <param name="timesteps">One timestep (c_noise) per batch item, each an element of <see cref="TimelineScheduler.Timesteps"/>.</param>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps)
    {
        using var sigma = Run.BatchSigmas(timesteps, MissingIsLast, originalSamples);
        using var scaled = noise * sigma;
        return originalSamples + scaled;
    }

    /// <summary>D(x; σ) = c_skip·x + c_out·F (diffusers' <c>precondition_outputs</c>).</summary>
    private protected Tensor Denoised(Tensor sample, Tensor modelOutput, float sigma) =>
        EdmPreconditioning.Denoised(sample, modelOutput, sigma, EdmSchedule.SigmaData, PredictionType);

    /// <summary>Starts a run over <paramref name="sigmas"/> (float32, descending) and the final σ; the timesteps are c_noise in float32.</summary>
    private protected void StartRunOver(float[] sigmas, float finalSigma) =>
        StartRun(sigmas.Select(s => (double)(MathF.Log(s) * 0.25f)).ToArray(), [.. sigmas, finalSigma]);
}
