using DiffusionSharp.Conditioning;
using DiffusionSharp.Imaging;
using DiffusionSharp.Models;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// Image editing with a loaded <see cref="DiffusionPipeline"/>: reading the input image and the inpainting mask at the
/// model's size, choosing the sampler by name, and running an <see cref="ImageEditor"/> with the pipeline's model call
/// (class labels and classifier-free guidance included). What <c>diffuse edit</c> runs.
/// </summary>
public static class ImageEditing
{
    private const string SamplerNameProperty = nameof(ImageEditing) + ".samplerName";

    /// <summary>The samplers that can edit (<see cref="SamplerCapabilities.CanEdit"/>): all but pndm and unipc, in catalog order.</summary>
    public static IReadOnlyList<string> SamplerNames { get; } = SamplerCatalog.NamesWhere(c => c.CanEdit);

    /// <summary>
    /// The sampler called <paramref name="samplerName"/> over the training schedule and prediction type of
    /// <paramref name="trained"/> (diffusers' <c>from_config</c>, as <see cref="SchedulerFactory.WithSampler"/>); null keeps
    /// <paramref name="trained"/>'s class.
    /// </summary>
    /// <param name="trained">The pipeline's own scheduler.</param>
    /// <param name="samplerName">One of <see cref="SamplerNames"/>, or null.</param>
    /// <param name="eta">DDIM's noise scale; must be 0 for the other samplers.</param>
    /// <param name="karrasSigmas">Karras et al. 2022 noise levels (samplers with <c>use_karras_sigmas</c> only).</param>
    /// <param name="spacing">The inference timestep spacing; null keeps the sampler's own.</param>
    /// <exception cref="InvalidInputException">A name that cannot edit (the message lists those that can) or eta for a sampler other than ddim.</exception>
    public static IScheduler CreateScheduler(IScheduler trained, string? samplerName, double eta = 0,
        bool karrasSigmas = false, TimestepSpacing? spacing = null)
    {
        ArgumentNullException.ThrowIfNull(trained);
        CheckSamplerName(samplerName);
        return SchedulerFactory.WithSampler(trained, samplerName,
            new SamplerOverrides { KarrasSigmas = karrasSigmas, TimestepSpacing = spacing, Eta = eta != 0 ? eta : null });
    }

    /// <summary>Checks a sampler name before any work; null passes.</summary>
    /// <exception cref="InvalidInputException">The name is unknown or names a sampler that cannot edit; the message starts with <c>samplerName</c> and lists <see cref="SamplerNames"/>.</exception>
    public static void CheckSamplerName(string? samplerName)
    {
        if (samplerName is null) return;
        var entry = SamplerCatalog.Find(samplerName)
            ?? throw new InvalidInputException($"samplerName: unknown sampler '{samplerName}' (known: {string.Join(", ", SamplerNames)})", SamplerNameProperty);
        if (entry.Capabilities.CannotEditReason is { } reason)
            throw new InvalidInputException($"samplerName {samplerName} cannot edit: {reason} (use one of: {string.Join(", ", SamplerNames)})", SamplerNameProperty);
    }

    /// <summary>
    /// Reads the image to edit as the model sees images: the shorter side resized to sample_size and centre-cropped,
    /// one channel for in_channels 1 (luma), three for 3.
    /// </summary>
    /// <returns>[1, C, S, S] float32 in [-1, 1].</returns>
    /// <exception cref="InvalidInputException">The file is missing or unreadable, or the model's size or channels are unusable.</exception>
    public static Tensor LoadImage(string path, UNet2DConfig config) => LoadImage(path, ImageGeometry(config));

    /// <summary>
    /// Reads the image to edit at the size and channels of the images <paramref name="pipeline"/> makes (a latent model's
    /// decoded images), resized and centre-cropped as <see cref="LoadImage(string, UNet2DConfig)"/>.
    /// </summary>
    /// <returns>[1, C, S, S] float32 in [-1, 1].</returns>
    public static Tensor LoadImage(string path, DiffusionPipeline pipeline) => LoadImage(path, ImageGeometry(pipeline));

    /// <summary>An inpainting mask at the size of the images <paramref name="pipeline"/> makes (see <see cref="LoadMask(string, string, UNet2DConfig, bool)"/>).</summary>
    public static Tensor LoadMask(string path, string imagePath, DiffusionPipeline pipeline, bool keepWhite = false) =>
        LoadMask(path, imagePath, ImageGeometry(pipeline).Size, keepWhite);

    private static Tensor LoadImage(string path, (bool Grayscale, int Size) geometry)
    {
        var (grayscale, size) = geometry;
        using var image = ImageFile.LoadTensor(path, grayscale, size);
        return image.unsqueeze(0);
    }

    /// <summary>
    /// Reads an inpainting mask: white (≥ 50% gray) = repaint, black = keep; <paramref name="keepWhite"/> swaps them.
    /// It must have the size of the image file (or already the model's size) and is resized and cropped like the image.
    /// </summary>
    /// <param name="path">The mask file; its colours are read as luma.</param>
    /// <param name="imagePath">The image it belongs to, for the size check.</param>
    /// <param name="config">The model config (sample_size).</param>
    /// <param name="keepWhite">White = keep, black = repaint.</param>
    /// <returns>[1, 1, S, S] float32: 1 = repaint, 0 = keep.</returns>
    /// <exception cref="InvalidInputException">A file is missing or unreadable, or the sizes differ.</exception>
    public static Tensor LoadMask(string path, string imagePath, UNet2DConfig config, bool keepWhite = false) =>
        LoadMask(path, imagePath, ImageGeometry(config).Size, keepWhite);

    private static Tensor LoadMask(string path, string imagePath, int size, bool keepWhite)
    {
        var maskPixels = ImageFile.LoadPixels(path, grayscale: true);
        var imagePixels = ImageFile.LoadPixels(imagePath, grayscale: true);
        bool sameAsImage = maskPixels.Width == imagePixels.Width && maskPixels.Height == imagePixels.Height;
        bool modelSize = maskPixels.Width == size && maskPixels.Height == size;
        if (!sameAsImage && !modelSize)
            throw new InvalidInputException(
                $"mask: {path} is {maskPixels.Width}x{maskPixels.Height} but the image {imagePath} is {imagePixels.Width}x{imagePixels.Height}; give a mask of the image's size",
                nameof(ImageEditing) + ".mask");
        using var mask = ImageFile.LoadTensor(path, grayscale: true, size);
        using var white = mask > 0;
        using var repaint = keepWhite ? white.logical_not() : white.alias();
        return repaint.to_type(ScalarType.Float32).unsqueeze(0);
    }

    /// <summary>
    /// Edits <paramref name="image"/> with the pipeline's network: image-to-image without a mask, inpainting with one
    /// (see <see cref="ImageEditor"/>).
    /// </summary>
    /// <param name="pipeline">The model (and its default sampler).</param>
    /// <param name="image">[B, C, H, W] in the model's data range, of the model's channels and sample_size; not disposed.</param>
    /// <param name="options">Strength, steps and resampling.</param>
    /// <param name="seed">Seed of the CPU generator behind every noise draw.</param>
    /// <param name="mask">[1 or B, 1, H, W], 1 = repaint, 0 = keep; null for image-to-image.</param>
    /// <param name="classLabels">For a class-conditional model, one label per image; null for unconditional editing.</param>
    /// <param name="guidance">Classifier-free guidance scale w (1 = none); needs class labels.</param>
    /// <param name="scheduler">The sampler; null = the pipeline's own.</param>
    /// <param name="onStep">Called after every step.</param>
    /// <exception cref="InvalidInputException">Bad options, an image that does not fit the model, or conditioning the model does not have.</exception>
    public static EditResult Edit(this DiffusionPipeline pipeline, Tensor image, EditOptions options, long seed,
        Tensor? mask = null, IReadOnlyList<long>? classLabels = null, double guidance = 1.0, IScheduler? scheduler = null,
        Action<SamplingStep>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var config = pipeline.Unet.Config;
        var shape = pipeline.Vae is null ? [config.InChannels, config.SampleSize ?? (int)image.shape[^1], config.SampleSize ?? (int)image.shape[^1]] : pipeline.OutputShape;
        if (image.dim() != 4 || image.shape[1] != shape[0] || image.shape[2] != shape[1] || image.shape[3] != shape[2])
            throw new InvalidInputException(
                $"image: the model takes [B, {shape[0]}, {shape[1]}, {shape[2]}] images, got [{string.Join(", ", image.shape)}]",
                nameof(ImageEditing) + "." + nameof(image));
        if (guidance != 1.0 && pipeline.NumClasses == 0)
            throw new InvalidInputException(
                "guidance: this model is unconditional (no num_class_embeds in its config.json); there is no class to guide towards",
                nameof(ImageEditing) + "." + nameof(guidance));
        int rows = (int)image.shape[0];
        pipeline.CheckConditioning(classLabels, guidance, rows);
        // No labels: a class-conditional model edits unconditionally, with its null class (as Generate samples).
        using var condition = classLabels is null ? pipeline.UnconditionalRows(rows)
            : new ClassLabelCondition(tensor(classLabels.ToArray(), dtype: ScalarType.Int64), pipeline.NumClasses);
        var editor = new ImageEditor(scheduler ?? pipeline.Scheduler, pipeline.ModelCall(condition, guidance));
        using var generator = new Generator((ulong)seed);
        return EditThroughVae(pipeline, editor, image, options, generator, mask, onStep);
    }

    /// <summary>
    /// Runs <paramref name="editor"/> on <paramref name="image"/>, in latent space when the pipeline has a VAE: the image's
    /// latent (the posterior's mode), the mask shrunk to the latent grid (a latent cell is repainted if any pixel it covers
    /// is), and the result and the noised start decoded.
    /// </summary>
    internal static EditResult EditThroughVae(DiffusionPipeline pipeline, ImageEditor editor, Tensor image, EditOptions options, Generator generator,
        Tensor? mask, Action<SamplingStep>? onStep)
    {
        if (pipeline.Vae is null) return editor.Edit(image, options, generator, mask, onStep);
        using var latents = pipeline.Encode(image);
        using var latentMask = mask is null ? null : LatentMask(mask, pipeline.Vae.DownsamplingFactor);
        using var edited = editor.Edit(latents, options, generator, latentMask, onStep);
        return new EditResult(pipeline.Decode(edited.Image), pipeline.Decode(edited.Noised), edited.StartTimestep, edited.StepsRun, edited.ModelCalls);
    }

    /// <summary>
    /// An image mask [B, 1, H, W] (1 = repaint) on the latent grid [B, 1, H/f, W/f]: the maximum over each f x f cell, so every
    /// latent that touches the repainted region is repainted (the kept region's latents are those the decoder reads only kept pixels from, up to its receptive field).
    /// </summary>
    public static Tensor LatentMask(Tensor mask, int factor)
    {
        ArgumentNullException.ThrowIfNull(mask);
        using var scope = NewDisposeScope();
        return nn.functional.max_pool2d((mask >= 0.5).to_type(ScalarType.Float32), factor, factor).MoveToOuterDisposeScope();
    }

    private static (bool Grayscale, int Size) ImageGeometry(DiffusionPipeline pipeline)
    {
        if (pipeline.Vae is null) return ImageGeometry(pipeline.Unet.Config);
        var shape = pipeline.OutputShape;
        return shape[0] switch
        {
            1 => (true, shape[1]),
            3 => (false, shape[1]),
            var c => throw new InvalidInputException($"vae/config.json: in_channels {c} is not an image (expected 1 or 3)"),
        };
    }

    private static (bool Grayscale, int Size) ImageGeometry(UNet2DConfig config)
    {
        int size = config.SampleSize ?? throw new InvalidInputException("config.json: sample_size is null; the image size is unknown");
        return config.InChannels switch
        {
            1 => (true, size),
            3 => (false, size),
            var c => throw new InvalidInputException($"config.json: in_channels {c} is not an image (expected 1 or 3)"),
        };
    }
}
