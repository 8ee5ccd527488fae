using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// A sampler with diffusers' scheduler contract. It never calls the model; the sampling loop does:
/// <code>
/// scheduler.SetTimesteps(n);
/// var sample = noise * scheduler.InitNoiseSigma;
/// foreach (var t in scheduler.Timesteps)
/// {
///     var output = model(scheduler.ScaleModelInput(sample, t), t);
///     sample = scheduler.Step(output, t, sample, generator: g).PrevSample;
/// }
/// </code>
/// Samples are [B, C, H, W] float32 tensors; every call returns fresh tensors and never disposes its inputs.
/// </summary>
public interface IScheduler
{
    /// <summary>The name used on the command line (ddpm, ddim, dpmpp-2m, euler, unipc, ...).</summary>
    string Name { get; }

    /// <summary>The training-time schedule table this sampler reads (never a private copy of the formula).</summary>
    NoiseSchedule Schedule { get; }

    /// <summary>What the model predicts.</summary>
    PredictionType PredictionType { get; }

    /// <summary>The timesteps of the current sampling run, in the order the loop visits them (descending). Integer-valued for DDPM, DDIM, DPM-Solver, UniPC and PNDM; float for Euler.</summary>
    IReadOnlyList<double> Timesteps { get; }

    /// <summary>The standard deviation of the initial noise: 1 for DDPM/DDIM/DPM-Solver/UniPC, the largest sigma (or sqrt(sigma²+1)) for Euler-type samplers.</summary>
    double InitNoiseSigma { get; }

    /// <summary>Chooses <paramref name="numInferenceSteps"/> timesteps and resets any multistep state.</summary>
    /// <exception cref="InvalidInputException">The number of steps is out of range.</exception>
    void SetTimesteps(int numInferenceSteps);

    /// <summary>The model input for <paramref name="timestep"/>: <paramref name="sample"/> itself, or sample / sqrt(sigma²+1) for Euler-type samplers.</summary>
    Tensor ScaleModelInput(Tensor sample, double timestep);

    /// <summary>
    /// One reverse step from x_t to x_{t-1}.
    /// </summary>
    /// <param name="modelOutput">The network's prediction at <paramref name="timestep"/> [B, C, H, W].</param>
    /// <param name="timestep">The current timestep, an element of <see cref="Timesteps"/>.</param>
    /// <param name="sample">x_t [B, C, H, W].</param>
    /// <param name="varianceNoise">The Gaussian noise to use for a stochastic step (diffusers' <c>variance_noise</c>); drawn from <paramref name="generator"/> when null.</param>
    /// <param name="generator">A CPU generator for the noise of stochastic steps; required when the step draws noise and <paramref name="varianceNoise"/> is null.</param>
    SchedulerStepOutput Step(Tensor modelOutput, double timestep, Tensor sample, Tensor? varianceNoise = null, Generator? generator = null);

    /// <summary>The scheduler's <c>scheduler_config.json</c> content, with diffusers' keys and <c>_class_name</c>.</summary>
    JsonObject ToConfigJson();
}

/// <summary>The result of <see cref="IScheduler.Step"/>.</summary>
/// <param name="PrevSample">x_{t-1}, the input of the next step [B, C, H, W].</param>
/// <param name="PredOriginalSample">The predicted x_0 at this step, when the sampler computes one.</param>
public sealed record SchedulerStepOutput(Tensor PrevSample, Tensor? PredOriginalSample);
