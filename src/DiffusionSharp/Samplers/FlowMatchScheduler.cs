using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the flow-matching samplers, <see cref="FlowMatchEulerDiscreteScheduler"/> and
/// <see cref="FlowMatchHeunDiscreteScheduler"/>, share: the path x_σ = (1 - σ)·x_0 + σ·eps of a
/// <see cref="FlowMatchSchedule"/>, the network's velocity v = dx_σ/dσ (<see cref="PredictionType.FlowPrediction"/>) at
/// timestep σ·T, no input scaling, x_1 = eps unscaled (<see cref="InitNoiseSigma"/> 1, as SD3 and Flux start), and
/// diffusers' <c>scale_noise</c> as <see cref="AddNoise"/>. Before <see cref="TimelineScheduler.SetTimesteps"/> the run is
/// the T training sigmas, as after diffusers' constructor. Only this library derives from it.
/// </summary>
public abstract class FlowMatchScheduler : TimelineScheduler
{
    /// <param name="schedule">The noise levels, validated here.</param>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    private protected FlowMatchScheduler(FlowMatchSchedule schedule)
    {
        schedule.Validate();
        FlowSchedule = schedule;
        var training = schedule.TrainingSigmas();
        StartRun(training.Select(schedule.TimestepOf).ToArray(), training);
    }

    /// <summary>The noise levels (diffusers' config keys).</summary>
    public FlowMatchSchedule FlowSchedule { get; }

    /// <summary>None: flow matching has no beta schedule.</summary>
    public override NoiseSchedule? Schedule => null;

    /// <summary>The velocity eps - x_0.</summary>
    public override PredictionType PredictionType => PredictionType.FlowPrediction;

    /// <summary>1: the run starts from x_1 = eps.</summary>
    public override double InitNoiseSigma => 1.0;

    /// <summary>The sample itself: the network sees x_σ.</summary>
    public override Tensor ScaleModelInput(Tensor sample, double timestep) => sample.alias();

    /// <summary>
    /// The forward process σ·noise + (1 - σ)·x_0 (diffusers' <c>scale_noise</c>) with σ of each batch item's timestep, or
    /// of the current step once a run with a begin index has started (image-to-image, inpainting).
    /// </summary>
    /// <param name="originalSamples">x_0 [B, C, ...].</param>
    /// <param name="noise">eps, same shape.</param>
    /// <param name="timesteps">One timestep per batch item, each an element of <see cref="TimelineScheduler.Timesteps"/>.</param>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps)
    {
        using var sigma = Run.BatchSigmas(timesteps, missingIsLast: false, originalSamples);
        return Interpolate(originalSamples, noise, sigma);
    }

    /// <summary>σ·noise + (1 - σ)·x_0, σ a scalar tensor or one per item.</summary>
    private protected static Tensor Interpolate(Tensor x0, Tensor noise, Tensor sigma)
    {
        using var scaledNoise = sigma * noise;
        using var keep = 1.0 - sigma;
        using var scaledX0 = keep * x0;
        return scaledNoise + scaledX0;
    }

    /// <summary>The predicted x_0 = x_σ - σ·v (for trajectory pictures; diffusers returns none).</summary>
    private protected static Tensor PredictOriginal(Tensor sample, Tensor velocity, float sigma)
    {
        using var scaled = velocity * sigma;
        return sample - scaled;
    }

    /// <summary>Starts a run over inference sigmas (float32, without the final 0) and their timesteps σ·T.</summary>
    private protected void StartRunOver(float[] sigmas) =>
        StartRun(sigmas.Select(FlowSchedule.TimestepOf).ToArray(), [.. sigmas, 0f]);
}
