using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The reverse process: start from Gaussian noise and let the scheduler step through its timesteps, asking the model at
/// each one. The only place that knows both the model and the scheduler (diffusers' pipeline loop).
/// </summary>
/// <remarks>
/// Runs under <c>torch.inference_mode()</c> with one dispose scope per step, so memory stays flat however many steps
/// run. Randomness comes only from the caller's CPU generator: the initial noise first, then each stochastic step's
/// noise, so a seed gives the same samples on every machine. Put the model in eval mode before calling.
/// </remarks>
public sealed class SamplingLoop
{
    private readonly Func<Tensor, double, Tensor> _model;

    /// <summary>A loop over <paramref name="scheduler"/> and <paramref name="model"/>.</summary>
    /// <param name="scheduler">The sampler.</param>
    /// <param name="model">The network call (model input [B, C, H, W], timestep) → model output [B, C, H, W].</param>
    public SamplingLoop(IScheduler scheduler, Func<Tensor, double, Tensor> model)
    {
        Scheduler = scheduler;
        _model = model;
    }

    /// <summary>The sampler.</summary>
    public IScheduler Scheduler { get; }

    /// <summary>
    /// Draws x_T = <c>randn(shape, generator)</c> on the CPU (so a seed gives the same samples on every device), moves it
    /// to <paramref name="device"/> and denoises it there in <paramref name="numInferenceSteps"/> steps.
    /// </summary>
    /// <param name="shape">[B, C, H, W].</param>
    /// <param name="numInferenceSteps">The number of steps, 1..T.</param>
    /// <param name="generator">The CPU generator for the initial and the per-step noise.</param>
    /// <param name="onStep">Called after every step.</param>
    /// <param name="device">Where the sample lives during the run (the network's device); null = the CPU.</param>
    /// <returns>The samples [B, C, H, W] float32, in the model's data range (e.g. [-1, 1]), on <paramref name="device"/>.</returns>
    public Tensor Sample(long[] shape, int numInferenceSteps, Generator generator, Action<SamplingStep>? onStep = null, Device? device = null)
    {
        using var drawn = randn(shape, generator: generator);
        using var initialNoise = device is null || device.type == DeviceType.CPU ? drawn.alias() : drawn.to(device);
        return Denoise(initialNoise, numInferenceSteps, generator, onStep: onStep);
    }

    /// <summary>Denoises given initial noise x_T (scaled by the scheduler's <see cref="IScheduler.InitNoiseSigma"/>).</summary>
    /// <param name="initialNoise">x_T ~ N(0, I) [B, C, H, W]; not disposed.</param>
    /// <param name="numInferenceSteps">The number of steps, 1..T.</param>
    /// <param name="generator">The CPU generator for stochastic steps; may be null when <paramref name="varianceNoise"/> gives every step's noise or the sampler is deterministic.</param>
    /// <param name="varianceNoise">Optional per-step noise by step index (diffusers' <c>variance_noise</c>), e.g. to replay a recorded run; not disposed.</param>
    /// <param name="onStep">Called after every step.</param>
    /// <returns>The final samples [B, C, H, W].</returns>
    public Tensor Denoise(
        Tensor initialNoise,
        int numInferenceSteps,
        Generator? generator,
        Func<int, Tensor?>? varianceNoise = null,
        Action<SamplingStep>? onStep = null)
    {
        using var inference = inference_mode();
        var sample = Begin(initialNoise, numInferenceSteps);
        var timesteps = Scheduler.Timesteps;
        for (int i = 0; i < timesteps.Count; i++)
        {
            var next = Step(sample, timesteps, i, generator, varianceNoise, onStep);
            sample.Dispose();
            sample = next;
        }
        return sample;
    }

    /// <summary>Sets the scheduler's timesteps for a run and returns x_T scaled by its init noise sigma (a new tensor).</summary>
    internal Tensor Begin(Tensor initialNoise, int numInferenceSteps)
    {
        Scheduler.SetTimesteps(numInferenceSteps);
        return initialNoise * Scheduler.InitNoiseSigma;
    }

    /// <summary>
    /// Step <paramref name="index"/> of a run: the model at <c>timesteps[index]</c>, then the scheduler's step, in one
    /// dispose scope. Returns x_{t-1} (new); <paramref name="sample"/> is not disposed. Call under inference mode.
    /// </summary>
    internal Tensor Step(Tensor sample, IReadOnlyList<double> timesteps, int index, Generator? generator, Func<int, Tensor?>? varianceNoise,
        Action<SamplingStep>? onStep)
    {
        double t = timesteps[index];
        using var scope = NewDisposeScope();
        var modelOutput = _model(Scheduler.ScaleModelInput(sample, t), t);
        var step = Scheduler.Step(modelOutput, t, sample, varianceNoise?.Invoke(index), generator);
        onStep?.Invoke(new SamplingStep(index, timesteps.Count, t, step.PrevSample, step.PredOriginalSample));
        return step.PrevSample.MoveToOuterDisposeScope();
    }
}
