using System.Text.Json;
using DiffusionSharp.Conditioning;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Text;
using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// A diffusers <c>StableDiffusionPipeline</c> folder (SD 1.x / 2.x): <c>model_index.json</c> naming <c>tokenizer/</c>,
/// <c>text_encoder/</c> (CLIP), <c>unet/</c> (<see cref="UNet2DConditionModel"/>), <c>vae/</c> (<see cref="AutoencoderKL"/> or
/// TAESD) and <c>scheduler/</c>, loaded and checked against each other, and text-to-image sampling as diffusers' pipeline
/// <c>__call__</c> runs it: prompt and negative prompt encoded, latents = noise · init_noise_sigma, classifier-free guidance in
/// one doubled batch, the scheduler's steps, then the VAE decode of latents / scaling_factor.
/// </summary>
public sealed class StableDiffusionPipeline : IDisposable
{
    /// <summary>The components a Stable Diffusion folder must name in <c>model_index.json</c> and hold as sub-folders.</summary>
    public static IReadOnlyList<string> RequiredComponents { get; } = ["tokenizer", "text_encoder", "unet", "vae", "scheduler"];

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the folder, the image size, the steps and the guidance scale.</summary>
    public const string FolderProperty = "StableDiffusionPipeline.folder", SizeProperty = "StableDiffusionPipeline.size",
        StepsProperty = "StableDiffusionPipeline.steps", GuidanceProperty = "StableDiffusionPipeline.guidance";

    private readonly bool _ownsComponents;

    private StableDiffusionPipeline(string folder, TextEncoder textEncoder, UNet2DConditionModel unet, IAutoencoder vae, IScheduler scheduler,
        bool ownsComponents = true)
    {
        Source = folder;
        TextEncoder = textEncoder;
        Unet = unet;
        Vae = vae;
        Scheduler = scheduler;
        _ownsComponents = ownsComponents;
    }

    /// <summary>
    /// The same text encoder, UNet and VAE with another sampler, for several runs over one loaded pipeline (each with
    /// its own sampler options) without loading the weights again. Disposing the result leaves the components alone:
    /// this pipeline still owns them.
    /// </summary>
    /// <param name="scheduler">The sampler, e.g. <see cref="DiffusionPipeline.LoadScheduler"/> of <see cref="Source"/> with other options.</param>
    public StableDiffusionPipeline WithScheduler(IScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        return new StableDiffusionPipeline(Source, TextEncoder, Unet, Vae, scheduler, ownsComponents: false);
    }

    /// <summary>The folder the pipeline came from.</summary>
    public string Source { get; }

    /// <summary>Tokenizer and CLIP text model: prompts to <c>encoder_hidden_states</c> <c>[B, 77, D]</c>.</summary>
    public TextEncoder TextEncoder { get; }

    /// <summary>The denoiser over latents, in eval mode.</summary>
    public UNet2DConditionModel Unet { get; }

    /// <summary>The autoencoder that decodes latents to images.</summary>
    public IAutoencoder Vae { get; }

    /// <summary>The sampler (the folder's scheduler, or the one asked for over its training schedule).</summary>
    public IScheduler Scheduler { get; }

    /// <summary>Image size / latent size (diffusers' <c>vae_scale_factor</c>, 8 for SD).</summary>
    public int VaeScaleFactor => Vae.DownsamplingFactor;

    /// <summary>The default image side: unet <c>sample_size</c> · <see cref="VaeScaleFactor"/> (512 for SD 1.5), as diffusers.</summary>
    public int DefaultSize => (Unet.Config.SampleSize ?? 64) * VaeScaleFactor;

    /// <summary>Whether <paramref name="folder"/> is a pipeline folder whose <c>model_index.json</c> names a text encoder.</summary>
    public static bool IsTextToImageFolder(string folder)
    {
        var index = Path.Combine(folder, "model_index.json");
        if (!File.Exists(index)) return false;
        try
        {
            using var doc = JsonDocument.Parse(JsonFile.ReadText(index, "pipeline index"), JsonFile.DocumentOptions);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text_encoder", out var c)
                && c.ValueKind == JsonValueKind.Array && c.GetArrayLength() == 2 && c[0].ValueKind == JsonValueKind.String;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The option <see cref="Load"/>'s useEma stands for in error messages.</summary>
    public const string EmaProperty = "--ema";

    /// <summary>Loads and cross-checks the components of a Stable Diffusion pipeline folder (float32).</summary>
    /// <param name="folder">The pipeline folder.</param>
    /// <param name="samplerName">A sampler over the folder's training schedule; null = the folder's own scheduler.</param>
    /// <param name="eta">DDIM's eta (0 = deterministic).</param>
    /// <param name="karrasSigmas">Karras noise levels (samplers with <c>use_karras_sigmas</c>).</param>
    /// <param name="spacing">Inference timestep spacing; null = the scheduler config's.</param>
    /// <param name="device">Where the networks run (null = the CPU).</param>
    /// <param name="useEma">Load the EMA weights a text-to-image training run keeps beside the live ones: <c>unet_ema/</c>
    /// and <c>text_encoder_ema/</c> instead of <c>unet/</c> and <c>text_encoder/</c> (the VAE, tokenizer and scheduler are shared).</param>
    /// <exception cref="InvalidInputException">A missing component or file (with <paramref name="useEma"/>: a folder without
    /// both EMA networks), a malformed one, or components whose dimensions disagree (text encoder width vs the UNet's
    /// cross_attention_dim, VAE latent channels vs the UNet's in/out channels).</exception>
    public static StableDiffusionPipeline Load(string folder, string? samplerName = null, double eta = 0, bool karrasSigmas = false,
        TimestepSpacing? spacing = null, Device? device = null, bool useEma = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        CheckIndex(folder);
        string unetName = useEma ? "unet_ema" : "unet", textName = useEma ? "text_encoder_ema" : "text_encoder";
        if (useEma)
            foreach (string part in new[] { unetName, textName })
                if (!Directory.Exists(Path.Combine(folder, part)))
                    throw new InvalidInputException($"--ema: {folder} has no {part}/ folder (only a text-to-image training run keeps EMA weights; load it without --ema)", EmaProperty);
        string unetConfig = Path.Combine(folder, unetName, UNet2DModel.ConfigFileName);
        if (Denoisers.LoadConfig(unetConfig) is not UNet2DConditionConfig)
            throw new InvalidInputException($"{unetConfig}: _class_name is not UNet2DConditionModel; a text-to-image pipeline needs a text-conditioned UNet");
        var scheduler = DiffusionPipeline.LoadScheduler(folder, samplerName: samplerName, eta: eta, karrasSigmas: karrasSigmas, spacing: spacing);
        TextEncoder? text = null;
        UNet2DConditionModel? unet = null;
        IAutoencoder? vae = null;
        try
        {
            text = TextEncoder.FromPretrained(folder, device, textName);
            unet = UNet2DConditionModel.FromPretrained(Path.Combine(folder, unetName), device);
            unet.eval();
            vae = AutoencoderLoader.FromPretrained(Path.Combine(folder, "vae"), device);
            CheckDimensions(folder, text, unet, vae);
            return new StableDiffusionPipeline(folder, text, unet, vae, scheduler);
        }
        catch
        {
            text?.Dispose();
            unet?.Dispose();
            vae?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Text to image, diffusers' <c>StableDiffusionPipeline.__call__</c> for one image (eta from the scheduler options,
    /// no guidance_rescale, no clip_skip).
    /// </summary>
    /// <param name="prompt">The prompt; cut to 77 tokens (75 + bos/eos) as diffusers does, reported in <see cref="TextToImageResult.Truncations"/>.</param>
    /// <param name="negativePrompt">What guidance steers away from; null = the empty prompt (diffusers' default).</param>
    /// <param name="guidance">Classifier-free guidance scale w: eps = eps_neg + w·(eps_text − eps_neg); w ≤ 1 runs the prompt alone (no doubled batch), as diffusers.</param>
    /// <param name="steps">Sampler steps.</param>
    /// <param name="height">Image height, divisible by <see cref="VaeScaleFactor"/>; null = <see cref="DefaultSize"/>.</param>
    /// <param name="width">Image width, likewise.</param>
    /// <param name="seed">The seed of <c>torch.Generator("cpu").manual_seed(seed)</c> the initial latents are drawn from (the same numbers as diffusers).</param>
    /// <param name="initialNoise">Given initial noise <c>[1, C, H/f, W/f]</c> instead of drawing it (not disposed); null = draw from <paramref name="seed"/>.</param>
    /// <param name="onStep">Called after each step.</param>
    /// <returns>The image <c>[1, 3, H, W]</c> and the latents of every step, on the CPU.</returns>
    /// <exception cref="InvalidInputException">A size not divisible by the VAE factor, steps out of range, or a bad guidance scale.</exception>
    public TextToImageResult Generate(string prompt, string? negativePrompt, double guidance, int steps, int? height = null, int? width = null,
        long seed = 0, Tensor? initialNoise = null, Action<SamplingStep>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        int h = height ?? DefaultSize, w = width ?? DefaultSize;
        CheckRequest(Unet, Scheduler, VaeScaleFactor, guidance, steps, h, w);
        // diffusers guides only when w > 1 (do_classifier_free_guidance); otherwise the prompt runs alone.
        bool guided = guidance > 1.0;
        var truncations = new List<PromptTruncation>();
        using var mode = inference_mode();
        using var promptEmbeds = TextEncoder.EncodeHidden([prompt], truncations.Add);
        // The negative prompt's embedding is the guidance's unconditional value (diffusers' negative_prompt_embeds; "" when none).
        using var negativeEmbeds = guided ? TextEncoder.EncodeHidden([negativePrompt ?? ""], t => truncations.Add(t with { Index = 1 })) : null;
        return GenerateFromEmbeddings(Unet, Vae, Scheduler, promptEmbeds, negativeEmbeds, guidance, steps, h, w, seed, initialNoise, onStep, truncations);
    }

    /// <summary>
    /// Image-to-image (SDEdit) and inpainting guided by a prompt: the image is encoded by the VAE (the posterior's mode,
    /// scaled), edited in latent space by <see cref="ImageEditor"/> (the mask shrunk to the latent grid by a max over each
    /// factor x factor cell) with classifier-free guidance between the prompt and the negative prompt, and decoded. This
    /// is the library's own editor over the pipeline's networks, not diffusers' img2img or inpainting pipeline call (whose
    /// noise draws differ), and it is not checked against diffusers.
    /// </summary>
    /// <param name="prompt">The prompt; cut to 77 tokens as <see cref="Generate"/> does.</param>
    /// <param name="negativePrompt">What guidance steers away from; null = the empty prompt.</param>
    /// <param name="guidance">Guidance scale w; w ≤ 1 runs the prompt alone.</param>
    /// <param name="image">[1, 3, H, W] in [-1, 1], H and W as <see cref="CheckSize"/> allows; not disposed.</param>
    /// <param name="options">Strength, steps and resampling.</param>
    /// <param name="seed">Seed of the CPU generator behind every noise draw.</param>
    /// <param name="mask">[1, 1, H, W], 1 = repaint, 0 = keep; null for image-to-image.</param>
    /// <param name="onStep">Called after every step, with the latents.</param>
    /// <param name="onTruncated">Called for a prompt cut to fit (index 0 the prompt, 1 the negative prompt); null = ignore.</param>
    /// <returns>The edited image and the noised start, decoded, on the CPU.</returns>
    /// <exception cref="InvalidInputException">Bad options, a sampler that cannot edit, or an image whose size the networks do not take.</exception>
    public EditResult Edit(string prompt, string? negativePrompt, double guidance, Tensor image, EditOptions options, long seed,
        Tensor? mask = null, Action<SamplingStep>? onStep = null, Action<PromptTruncation>? onTruncated = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (image.dim() != 4 || image.shape[0] != 1 || image.shape[1] != Vae.InChannels)
            throw new InvalidInputException($"image: the pipeline takes [1, {Vae.InChannels}, H, W] images, got [{string.Join(", ", image.shape)}]", nameof(StableDiffusionPipeline) + ".image");
        CheckSize((int)image.shape[2], (int)image.shape[3], Unet.Config, VaeScaleFactor);
        if (!double.IsFinite(guidance) || guidance < 0) throw new InvalidInputException($"guidance must be a number >= 0 (got {guidance})", GuidanceProperty);
        bool guided = guidance > 1.0;
        using var mode = inference_mode();
        using var promptEmbeds = TextEncoder.EncodeHidden([prompt], onTruncated);
        using var negativeEmbeds = guided ? TextEncoder.EncodeHidden([negativePrompt ?? ""], t => onTruncated?.Invoke(t with { Index = 1 })) : null;
        using var nullRow = (guided ? negativeEmbeds! : promptEmbeds).squeeze(0);
        using var condition = new EmbeddingCondition(promptEmbeds.alias(), null, nullRow);
        using var pipeline = DiffusionPipeline.FromModel(Unet, Scheduler, Vae);
        var editor = new ImageEditor(Scheduler, pipeline.ModelCall(condition, guided ? guidance : 1.0));
        using var generator = new Generator((ulong)seed);
        var result = ImageEditing.EditThroughVae(pipeline, editor, image, options, generator, mask, onStep);
        if (result.Image.device_type == TorchSharp.DeviceType.CPU) return result;
        using (result) return new EditResult(result.Image.cpu(), result.Noised.cpu(), result.StartTimestep, result.StepsRun, result.ModelCalls);
    }

    /// <summary>
    /// The part of <see cref="Generate"/> after the text encoder, for given embeddings: latents = noise · init_noise_sigma, the
    /// scheduler's steps with classifier-free guidance in one doubled batch, then the VAE decode of latents / scaling_factor.
    /// </summary>
    /// <param name="unet">The denoiser (put in eval mode by the caller).</param>
    /// <param name="vae">The autoencoder that decodes the final latents.</param>
    /// <param name="scheduler">The sampler.</param>
    /// <param name="promptEmbeds">The prompt's encoding <c>[1, L, D]</c> on the UNet's device; not disposed.</param>
    /// <param name="negativeEmbeds">The negative prompt's encoding <c>[1, L, D]</c>, the guidance's unconditional value; null = no guidance (needed when guidance &gt; 1).</param>
    /// <param name="guidance">Guidance scale w; w ≤ 1 runs the prompt alone.</param>
    /// <param name="steps">Sampler steps.</param>
    /// <param name="height">Image height, a multiple of the VAE factor.</param>
    /// <param name="width">Image width, likewise.</param>
    /// <param name="seed">Seed of the CPU generator the initial latents are drawn from.</param>
    /// <param name="initialNoise">Given initial noise <c>[1, C, H/f, W/f]</c> (not disposed); null = draw from <paramref name="seed"/>.</param>
    /// <param name="onStep">Called after each step.</param>
    /// <param name="truncations">Prompt truncations to report in the result; null = none.</param>
    /// <exception cref="InvalidInputException">A size not divisible by the VAE factor, steps out of range, or a bad guidance scale.</exception>
    public static TextToImageResult GenerateFromEmbeddings(UNet2DConditionModel unet, IAutoencoder vae, IScheduler scheduler, Tensor promptEmbeds,
        Tensor? negativeEmbeds, double guidance, int steps, int height, int width, long seed = 0, Tensor? initialNoise = null,
        Action<SamplingStep>? onStep = null, IReadOnlyList<PromptTruncation>? truncations = null)
    {
        ArgumentNullException.ThrowIfNull(unet);
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(promptEmbeds);
        int f = vae.DownsamplingFactor;
        CheckRequest(unet, scheduler, f, guidance, steps, height, width);
        bool guided = guidance > 1.0;
        if (guided && negativeEmbeds is null) throw new ArgumentException("guidance > 1 needs the negative prompt's embeddings", nameof(negativeEmbeds));
        long[] latentShape = [1, unet.Config.InChannels, height / f, width / f];
        if (initialNoise is not null && !initialNoise.shape.SequenceEqual(latentShape))
            throw new ArgumentException($"initialNoise must be [{string.Join(", ", latentShape)}], got [{string.Join(", ", initialNoise.shape)}]", nameof(initialNoise));

        var stepLatents = new List<Tensor>();
        var timesteps = new List<double>();
        Tensor? initial = null, image = null;
        try
        {
            using var mode = inference_mode();
            using var scope = NewDisposeScope();
            using var nullRow = (guided ? negativeEmbeds! : promptEmbeds).squeeze(0);
            using var condition = new EmbeddingCondition(promptEmbeds.alias(), null, nullRow);
            var call = DiffusionPipeline.FromModel(unet, scheduler).ModelCall(condition, guided ? guidance : 1.0);
            Tensor noise;
            if (initialNoise is not null) noise = initialNoise.to(ScalarType.Float32, unet.Device);
            else
            {
                using var generator = new Generator((ulong)seed);
                var drawn = randn(latentShape, generator: generator);
                noise = unet.Device.type == TorchSharp.DeviceType.CPU ? drawn : drawn.to(unet.Device);
            }
            initial = (noise * scheduler.InitNoiseSigma).cpu().DetachFromDisposeScope();
            var loop = new SamplingLoop(scheduler, call);
            using var latents = loop.Denoise(noise, steps, generator: null, onStep: s =>
            {
                stepLatents.Add(s.Sample.cpu().clone().DetachFromDisposeScope());
                timesteps.Add(s.Timestep);
                onStep?.Invoke(s);
            });
            image = vae.LatentsToImage(latents).cpu().clone().DetachFromDisposeScope();
            return new TextToImageResult(image, initial, stepLatents, timesteps, truncations ?? []);
        }
        catch
        {
            initial?.Dispose();
            image?.Dispose();
            foreach (var t in stepLatents) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checks an image size: both sides positive multiples of the VAE factor times the UNet's own downsampling
    /// (2^(levels-1): 64 for SD 1.5 at factor 8; diffusers' UNet can also stretch its upsampling to other multiples of 8, this port cannot).
    /// </summary>
    /// <exception cref="InvalidInputException">A side that is not such a multiple (property <see cref="SizeProperty"/>).</exception>
    public static void CheckSize(int height, int width, UNet2DConditionConfig unet, int vaeScaleFactor)
    {
        ArgumentNullException.ThrowIfNull(unet);
        int unetFactor = 1 << (unet.BlockOutChannels.Count - 1), m = vaeScaleFactor * unetFactor;
        if (height < m || width < m || height % m != 0 || width % m != 0)
            throw new InvalidInputException(
                $"size: {width}x{height} is not a positive multiple of {m} in both sides (the VAE downsamples by {vaeScaleFactor}, the UNet by {unetFactor} more)", SizeProperty);
    }

    private static void CheckRequest(UNet2DConditionModel unet, IScheduler scheduler, int vaeScaleFactor, double guidance, int steps, int h, int w)
    {
        CheckSize(h, w, unet.Config, vaeScaleFactor);
        if (steps < 1) throw new InvalidInputException($"steps must be at least 1 (got {steps})", StepsProperty);
        if (scheduler.Schedule is { } schedule && steps > schedule.NumTrainTimesteps)
            throw new InvalidInputException($"steps {steps} exceeds the scheduler's {schedule.NumTrainTimesteps} training timesteps", StepsProperty);
        if (!double.IsFinite(guidance) || guidance < 0) throw new InvalidInputException($"guidance must be a number >= 0 (got {guidance})", GuidanceProperty);
    }

    /// <summary>model_index.json present, a JSON object, naming every <see cref="RequiredComponents"/> entry, each with its sub-folder.</summary>
    private static void CheckIndex(string folder)
    {
        if (!Directory.Exists(folder)) throw new InvalidInputException($"folder: {folder} does not exist", FolderProperty);
        var index = Path.Combine(folder, "model_index.json");
        if (!File.Exists(index)) throw new InvalidInputException($"{folder}: no model_index.json; expected a diffusers StableDiffusionPipeline folder");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(JsonFile.ReadText(index, "pipeline index"), JsonFile.DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{index}: not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{index}: must be a JSON object");
            foreach (var name in RequiredComponents)
            {
                if (!doc.RootElement.TryGetProperty(name, out var entry) || entry.ValueKind != JsonValueKind.Array
                    || entry.GetArrayLength() != 2 || entry[1].ValueKind != JsonValueKind.String)
                    throw new InvalidInputException($"{index}: component '{name}' is missing (a Stable Diffusion pipeline needs {string.Join(", ", RequiredComponents)})");
                if (!Directory.Exists(Path.Combine(folder, name)))
                    throw new InvalidInputException($"{Path.Combine(folder, name)}: component folder '{name}' named in model_index.json is missing");
            }
        }
    }

    private static void CheckDimensions(string folder, TextEncoder text, UNet2DConditionModel unet, IAutoencoder vae)
    {
        int width = text.Model.Config.HiddenSize, cross = unet.Config.CrossAttentionDim;
        if (width != cross)
            throw new InvalidInputException(
                $"{Path.Combine(folder, "text_encoder", "config.json")}: hidden_size {width} does not match {Path.Combine(folder, "unet", "config.json")} cross_attention_dim {cross}");
        if (vae.LatentChannels != unet.Config.InChannels || vae.LatentChannels != unet.Config.OutChannels)
            throw new InvalidInputException(
                $"{Path.Combine(folder, "vae", "config.json")}: latent_channels {vae.LatentChannels} does not match {Path.Combine(folder, "unet", "config.json")} in_channels {unet.Config.InChannels} / out_channels {unet.Config.OutChannels}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_ownsComponents) return;
        TextEncoder.Dispose();
        Unet.Dispose();
        Vae.Dispose();
    }
}
