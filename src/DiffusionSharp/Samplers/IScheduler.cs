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

    /// <summary>
    /// The training-time beta schedule this sampler reads (never a private copy of the formula); null for the samplers of
    /// the continuous formulations (flow matching, EDM), which have none.
    /// </summary>
    NoiseSchedule? Schedule { get; }

    /// <summary>What the model predicts.</summary>
    PredictionType PredictionType { get; }

    /// <summary>The timesteps of the current sampling run, in the order the loop visits them (descending). Integer-valued for DDPM, DDIM, DPM-Solver, UniPC and PNDM; float for Euler.</summary>
    IReadOnlyList<double> Timesteps { get; }

    /// <summary>The standard deviation of the initial noise: 1 for DDPM/DDIM/DPM-Solver/UniPC and flow matching, the largest sigma (or sqrt(sigma²+1)) for Euler-type and EDM samplers.</summary>
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

    /// <summary>What this sampler can do with its options: the catalog's capabilities for its name (<see cref="SamplerCatalog"/>).</summary>
    SamplerCapabilities Capabilities { get; }

    /// <summary>diffusers' <c>order</c>: entries of <see cref="Timesteps"/> per sampler step (2 for Heun, else 1).</summary>
    int Order => Capabilities.Order;

    /// <summary>
    /// Starts the next run at <c>Timesteps[beginIndex]</c> (diffusers' <c>set_begin_index</c>, for image-to-image); call after
    /// <see cref="SetTimesteps"/>. DDPM and DDIM locate every step by its timestep and need no begin index.
    /// </summary>
    /// <exception cref="NotSupportedException">A sampler that cannot start mid-schedule (<see cref="SamplerCapabilities.CanEdit"/> false) and an index past 0.</exception>
    void SetBeginIndex(int beginIndex);

    /// <summary>
    /// The sampler's forward process (diffusers' <c>add_noise</c>): x_0 noised to the noise level of each batch item's
    /// timestep, sqrt(ᾱ_t)·x_0 + sqrt(1 - ᾱ_t)·noise for the integer-timestep samplers, the run's sigma for the sigma-based
    /// ones (the current step's during a run started with <see cref="SetBeginIndex"/>). Call after <see cref="SetTimesteps"/>.
    /// </summary>
    /// <param name="originalSamples">x_0 [B, C, H, W].</param>
    /// <param name="noise">ε, the same shape.</param>
    /// <param name="timesteps">One timestep per batch item, elements of <see cref="Timesteps"/> (or of the training range for the integer-timestep samplers).</param>
    Tensor AddNoise(Tensor originalSamples, Tensor noise, IReadOnlyList<double> timesteps);

    /// <summary>
    /// The timestep the step from <c>Timesteps[index]</c> lands on (diffusers' <c>previous_timestep</c>): t - T/N for DDPM and
    /// DDIM (not always the next linspace timestep), the next entry of <see cref="Timesteps"/> for the others; negative
    /// past the last step, which lands on the clean sample.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not an index of <see cref="Timesteps"/>.</exception>
    double PreviousTimestep(int index);

    /// <summary>
    /// The same sampler with <paramref name="overrides"/> applied to its options (<c>Options with { … }</c>), every other
    /// option kept; call <see cref="SetTimesteps"/> on it.
    /// </summary>
    /// <exception cref="InvalidInputException">An override the sampler does not have (<see cref="SamplerOverrides.CheckFor"/>).</exception>
    IScheduler With(SamplerOverrides overrides);
}

/// <summary>The result of <see cref="IScheduler.Step"/>.</summary>
/// <param name="PrevSample">x_{t-1}, the input of the next step [B, C, H, W].</param>
/// <param name="PredOriginalSample">The predicted x_0 at this step, when the sampler computes one.</param>
public sealed record SchedulerStepOutput(Tensor PrevSample, Tensor? PredOriginalSample);
