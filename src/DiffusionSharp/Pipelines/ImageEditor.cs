using DiffusionSharp.Samplers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// Edits images with a trained model: image-to-image (SDEdit, Meng et al. 2021) and inpainting (RePaint, Lugmayr et al.
/// 2022). Like the <see cref="SamplingLoop"/> it is the only place that knows both the model and the scheduler.
/// </summary>
/// <remarks>
/// <para>Image-to-image: the scheduler's timesteps for <see cref="EditOptions.Steps"/> are cut to the last
/// <c>n = int(steps·strength)</c> steps (diffusers' img2img: start at <c>timesteps[(steps - n)·order]</c>), the input x_0 is
/// noised to that first timestep with the scheduler's forward process (<see cref="IScheduler.AddNoise"/>), and the reverse
/// process runs from there. At strength 1 the start is pure noise, as in diffusers' inpainting pipeline, so the result
/// equals plain sampling with the same seed.</para>
/// <para>Inpainting: after every step the kept region (mask 0) is replaced by the input re-noised to the timestep the
/// step landed on (<see cref="IScheduler.PreviousTimestep"/>; fresh noise each time), and by the input itself after the
/// last step, so the kept pixels come back exactly; only the repainted region (mask 1) is generated. With
/// <see cref="EditOptions.Resample"/> = R (samplers that <see cref="SamplerCapabilities.CanResample"/>: DDPM and DDIM), each
/// step but the last is followed R times by a jump back, x_t ~ q(x_t | x_{t'}) = N(sqrt(ᾱ_t/ᾱ_{t'})·x_{t'}, (1 - ᾱ_t/ᾱ_{t'})·I),
/// and a redo of the step (RePaint, algorithm 1, with jumps of one step).</para>
/// <para>The editor uses only the <see cref="IScheduler"/> interface and the capabilities it reports.</para>
/// <para>Randomness comes only from the caller's CPU generator: the start noise first (the same draw as
/// <see cref="SamplingLoop.Sample"/>), then each step's noise and the kept region's noise in loop order.</para>
/// </remarks>
public sealed class ImageEditor
{
    private const string ResampleProperty = nameof(EditOptions) + "." + nameof(EditOptions.Resample);
    private const string MaskProperty = nameof(ImageEditor) + ".mask";

    private readonly Func<Tensor, double, Tensor> _model;

    /// <summary>An editor over <paramref name="scheduler"/> and <paramref name="model"/>.</summary>
    /// <param name="scheduler">A sampler that <see cref="SamplerCapabilities.CanEdit"/> (all but PNDM and UniPC).</param>
    /// <param name="model">The network call (model input [B, C, H, W], timestep) → model output [B, C, H, W].</param>
    /// <exception cref="InvalidInputException">The scheduler cannot edit; the message says why and lists those that can.</exception>
    public ImageEditor(IScheduler scheduler, Func<Tensor, double, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(model);
        if (scheduler.Capabilities.CannotEditReason is { } reason)
            throw new InvalidInputException(
                $"the {scheduler.Name} sampler cannot edit: {reason} (use one of: {string.Join(", ", ImageEditing.SamplerNames)})");
        Scheduler = scheduler;
        _model = model;
    }

    /// <summary>The sampler.</summary>
    public IScheduler Scheduler { get; }

    /// <summary>Edits <paramref name="image"/>: image-to-image without a mask, inpainting with one.</summary>
    /// <param name="image">x_0 [B, C, H, W] float32 in the model's data range; not disposed.</param>
    /// <param name="options">Strength, steps and resampling.</param>
    /// <param name="generator">The CPU generator for every noise draw.</param>
    /// <param name="mask">Inpainting mask [B or 1, 1, H, W]: values ≥ 0.5 are repainted, the rest kept; null for image-to-image.</param>
    /// <param name="onStep">Called after every step (after its resampling), with the sample after the step.</param>
    /// <exception cref="InvalidInputException">An option is out of range or does not fit the sampler; the mask does not fit the image.</exception>
    public EditResult Edit(Tensor image, EditOptions options, Generator generator, Tensor? mask = null, Action<SamplingStep>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckShapes(image, mask);
        if (options.Resample > 0)
        {
            if (mask is null)
                throw new InvalidInputException("Resample needs mask: resampling harmonises a repainted region with the kept one",
                    ResampleProperty, MaskProperty);
            if (!Scheduler.Capabilities.CanResample)
                throw new InvalidInputException(
                    $"Resample: only {SamplerCatalog.Listed(c => c.CanResample)} can redo a step (got samplerName {Scheduler.Name})",
                    ResampleProperty, SamplerCatalog.SamplerNameProperty);
        }

        using var inference = inference_mode();
        Scheduler.SetTimesteps(options.Steps);
        var timesteps = Scheduler.Timesteps;
        int begin = (options.Steps - options.StepsToRun) * Scheduler.Order;
        Scheduler.SetBeginIndex(begin);
        using var repaint = mask is null ? null : mask >= 0.5;

        // 1. the start: x_0 noised to the first timestep, or pure noise at strength 1
        Tensor sample, noised;
        using (NewDisposeScope())
        {
            var noise = StepNoise.Resolve(null, generator, image);
            sample = (options.Strength >= 1.0
                ? noise * Scheduler.InitNoiseSigma
                : AddNoise(image, noise, timesteps[begin])).MoveToOuterDisposeScope();
            noised = Scheduler.ScaleModelInput(sample, timesteps[begin]).clone().MoveToOuterDisposeScope();
        }

        // 2. the reverse process over the remaining timesteps
        int count = timesteps.Count - begin, calls = 0;
        for (int i = begin; i < timesteps.Count; i++)
        {
            double t = timesteps[i];
            bool last = i == timesteps.Count - 1;
            Tensor next;
            using (NewDisposeScope())
            {
                var x = sample;
                SchedulerStepOutput step;
                for (int redo = 0; ; redo++)
                {
                    var output = _model(Scheduler.ScaleModelInput(x, t), t);
                    calls++;
                    step = Scheduler.Step(output, t, x, generator: generator);
                    x = repaint is null ? step.PrevSample : KeepKnown(step.PrevSample, image, repaint, i, generator);
                    if (redo == options.Resample || last) break;
                    x = JumpBack(x, i, generator);
                }
                onStep?.Invoke(new SamplingStep(i - begin, count, t, x, step.PredOriginalSample));
                next = x.MoveToOuterDisposeScope();
            }
            sample.Dispose();
            sample = next;
        }
        return new EditResult(sample, noised, timesteps[begin], count, calls);
    }

    private static void CheckShapes(Tensor image, Tensor? mask)
    {
        if (image.dim() != 4) throw new ArgumentException($"expected an image batch [B, C, H, W], got [{string.Join(", ", image.shape)}]", nameof(image));
        if (mask is null) return;
        if (mask.dim() != 4 || mask.shape[1] != 1 || (mask.shape[0] != 1 && mask.shape[0] != image.shape[0]))
            throw new ArgumentException($"expected a mask [1 or B, 1, H, W], got [{string.Join(", ", mask.shape)}]", nameof(mask));
        if (mask.shape[2] != image.shape[2] || mask.shape[3] != image.shape[3])
            throw new InvalidInputException(
                $"mask: the mask is {mask.shape[3]}x{mask.shape[2]} but the image is {image.shape[3]}x{image.shape[2]}", MaskProperty);
    }

    /// <summary>The scheduler's forward process at <paramref name="timestep"/> for every image (diffusers' <c>add_noise</c>).</summary>
    private Tensor AddNoise(Tensor x0, Tensor noise, double timestep) =>
        Scheduler.AddNoise(x0, noise, Enumerable.Repeat(timestep, (int)x0.shape[0]).ToArray());

    /// <summary>The step's sample in the repainted region, the input at the step's noise level elsewhere (RePaint eq. 8).</summary>
    private Tensor KeepKnown(Tensor stepped, Tensor image, Tensor repaint, int i, Generator generator)
    {
        // the sigma-based samplers' add_noise reads the sigma of the step the run has advanced to, whatever the timestep
        double landing = i == Scheduler.Timesteps.Count - 1 ? -1 : Scheduler.PreviousTimestep(i);
        if (landing < 0) return where(repaint, stepped, image);
        using var z = StepNoise.Resolve(null, generator, image);
        using var known = AddNoise(image, z, landing);
        return where(repaint, stepped, known);
    }

    /// <summary>x_t ~ q(x_t | x_{t'}) for the jump t → t' of the step from <c>Timesteps[i]</c>: the forward process over one sampler step.</summary>
    private Tensor JumpBack(Tensor x, int i, Generator generator)
    {
        var alphaBar = Scheduler.Schedule.AlphasCumprod;
        int t = (int)Scheduler.Timesteps[i], landing = (int)Scheduler.PreviousTimestep(i);
        double alpha = alphaBar[t] / (landing >= 0 ? alphaBar[landing] : 1.0);
        var z = StepNoise.Resolve(null, generator, x);
        return x * Math.Sqrt(alpha) + z * Math.Sqrt(1 - alpha);
    }
}
