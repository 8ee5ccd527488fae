using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// A network (any <see cref="IDenoiser"/>) and a sampler loaded from a diffusers folder: a pipeline folder
/// (<c>model_index.json</c>, <c>unet/</c>, <c>scheduler/</c>; our training runs are such folders, with <c>unet_ema/</c> too)
/// or a bare model folder (<c>config.json</c> + weights, sampled with diffusers' default DDPM schedule). It builds the
/// model call the sampling loop runs, with any <see cref="Condition"/> and classifier-free guidance.
/// </summary>
public sealed class DiffusionPipeline : IDisposable
{
    private readonly bool _ownsUnet, _ownsVae;

    private DiffusionPipeline(IDenoiser denoiser, IScheduler scheduler, string source, bool isEma, bool ownsUnet = true,
        IAutoencoder? vae = null, bool ownsVae = true)
    {
        Denoiser = denoiser;
        Scheduler = scheduler;
        Source = source;
        IsEma = isEma;
        Vae = vae;
        _ownsUnet = ownsUnet;
        _ownsVae = ownsVae;
        if (vae is not null) CheckLatents(denoiser.Config, vae, source);
    }

    /// <summary>
    /// A pipeline over a model already in memory (for example a training run's EMA model); disposing the pipeline
    /// leaves the model (and <paramref name="vae"/>) alone.
    /// </summary>
    /// <param name="denoiser">The network.</param>
    /// <param name="scheduler">The sampler.</param>
    /// <param name="vae">For a latent model, the autoencoder whose latents it denoises; null in pixel space.</param>
    public static DiffusionPipeline FromModel(IDenoiser denoiser, IScheduler scheduler, IAutoencoder? vae = null) =>
        new(denoiser, scheduler, source: "(in memory)", isEma: false, ownsUnet: false, vae, ownsVae: false);

    /// <summary>
    /// A latent model's autoencoder (a pipeline folder's <c>vae/</c>): the network samples latents, which
    /// <see cref="IAutoencoder.LatentsToImage"/> decodes (latents / scaling_factor + shift_factor); null in pixel space.
    /// </summary>
    public IAutoencoder? Vae { get; }

    /// <summary>The shape of one generated sample: the network's sample shape, or the decoded image's for a latent model.</summary>
    public IReadOnlyList<int> OutputShape => Denoiser.Config.SampleShape is not { } shape ? throw new InvalidInputException("config.json: sample_size is null; the sample size is unknown")
        : Vae is null ? shape
        : [Vae.InChannels, .. shape.Skip(1).Select(d => d * Vae.DownsamplingFactor)];

    /// <summary>The network, in eval mode.</summary>
    public IDenoiser Denoiser { get; }

    /// <summary>The network as a <see cref="UNet2DModel"/> (image editing reads its image geometry).</summary>
    /// <exception cref="InvalidOperationException">The network is another class.</exception>
    public UNet2DModel Unet => Denoiser as UNet2DModel
        ?? throw new InvalidOperationException($"the pipeline's network is a {Denoiser.Config.ClassName}, not a UNet2DModel");

    /// <summary>The sampler.</summary>
    public IScheduler Scheduler { get; }

    /// <summary>The folder the pipeline came from.</summary>
    public string Source { get; }

    /// <summary>Whether the EMA weights were loaded.</summary>
    public bool IsEma { get; }

    /// <summary>Number of real classes of a class-conditional model (its last embedding is the null class); 0 when unconditional.</summary>
    public int NumClasses => Denoiser.Config.NumClasses;

    /// <summary>Loads a pipeline.</summary>
    /// <param name="folder">A pipeline folder, a training run, or a bare UNet2DModel folder.</param>
    /// <param name="useEma">Load <c>unet_ema/</c> instead of <c>unet/</c>.</param>
    /// <param name="samplerName">A sampler (ddpm, ddim, ...) to use over the folder's training schedule; null = the folder's own.</param>
    /// <param name="eta">DDIM's noise scale (0 = deterministic); only for the ddim sampler.</param>
    /// <param name="karrasSigmas">Karras et al. 2022 noise levels (samplers with <c>use_karras_sigmas</c> only).</param>
    /// <param name="spacing">The inference timestep spacing; null keeps the folder's (or the sampler's) own.</param>
    /// <param name="device">Where the network runs (null = the CPU).</param>
    /// <param name="singleShift">Flow-matching samplers: apply the shift once instead of diffusers 0.30.3's twice.</param>
    /// <exception cref="InvalidInputException">The folder is missing parts or they are malformed.</exception>
    public static DiffusionPipeline Load(string folder, bool useEma = false, string? samplerName = null, double eta = 0,
        bool karrasSigmas = false, TimestepSpacing? spacing = null, Device? device = null, bool singleShift = false)
    {
        string unetDir = NetworkFolder(folder, useEma);
        var scheduler = LoadScheduler(folder, useEma, samplerName, eta, karrasSigmas, spacing, singleShift);
        var denoiser = Denoisers.FromPretrained(unetDir, device);
        IAutoencoder? vae = null;
        try
        {
            denoiser.Module.eval();
            vae = VaeFolder(folder) is { } vaeDir ? AutoencoderLoader.FromPretrained(vaeDir, device) : null;
            return new DiffusionPipeline(denoiser, scheduler, folder, useEma, vae: vae);
        }
        catch
        {
            vae?.Dispose();
            denoiser.Dispose();
            throw;
        }
    }

    /// <summary>The <c>vae/</c> of a pipeline folder whose <c>model_index.json</c> names one (a latent model), or null.</summary>
    public static string? VaeFolder(string folder)
    {
        string index = Path.Combine(folder, "model_index.json"), vae = Path.Combine(folder, AutoencoderLoader.PipelineSubfolder);
        if (!File.Exists(index) || !Directory.Exists(vae)) return null;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(IO.JsonFile.ReadText(index, "pipeline index"), IO.JsonFile.DocumentOptions);
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("vae", out _) ? vae : null;
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidInputException($"{index}: not valid JSON ({e.Message.Split('\n')[0]})", FolderProperty);
        }
    }

    /// <summary>Checks that a latent network and its autoencoder fit: latent_channels = in_channels.</summary>
    private static void CheckLatents(IDenoiserConfig config, IAutoencoder vae, string source)
    {
        if (config.InChannels != vae.LatentChannels)
            throw new InvalidInputException(
                $"folder: {source}: the unet takes {config.InChannels} channel(s) but the vae's latents have {vae.LatentChannels} (latent_channels)", FolderProperty);
    }

    /// <summary>
    /// The folder <see cref="Load"/> reads the network from: <c>unet/</c> or <c>unet_ema/</c> of a pipeline folder, or a
    /// bare model folder itself. Load it with <see cref="Denoisers.FromPretrained"/> (and <c>eval()</c>) to reuse it over
    /// several runs with <see cref="FromModel"/> and <see cref="LoadScheduler"/>.
    /// </summary>
    /// <exception cref="InvalidInputException">The folder is missing parts, or a bare model folder is asked for EMA weights.</exception>
    public static string NetworkFolder(string folder, bool useEma = false)
    {
        if (!Directory.Exists(folder)) throw new InvalidInputException($"folder: {folder} does not exist", FolderProperty);
        bool isPipeline = File.Exists(Path.Combine(folder, "model_index.json")) || Directory.Exists(Path.Combine(folder, "unet"));
        if (isPipeline)
        {
            string unetDir = Path.Combine(folder, useEma ? "unet_ema" : "unet");
            if (!Directory.Exists(unetDir))
                throw new InvalidInputException($"folder: {folder} has no {(useEma ? "unet_ema" : "unet")}/ folder{(useEma ? " (load it without EMA)" : "")}", FolderProperty);
            return unetDir;
        }
        if (File.Exists(Path.Combine(folder, UNet2DModel.ConfigFileName)))
        {
            if (useEma) throw new InvalidInputException($"useEma: {folder} is a bare model folder with no EMA weights", "DiffusionPipeline.useEma");
            return folder;
        }
        throw new InvalidInputException($"folder: {folder} is neither a diffusers pipeline folder (model_index.json, unet/) nor a model folder (config.json)", FolderProperty);
    }

    /// <summary>The sampler <see cref="Load"/> builds for these options (see its parameters).</summary>
    /// <exception cref="InvalidInputException">The folder or its scheduler config is malformed, or an option does not fit the sampler.</exception>
    public static IScheduler LoadScheduler(string folder, bool useEma = false, string? samplerName = null, double eta = 0,
        bool karrasSigmas = false, TimestepSpacing? spacing = null, bool singleShift = false)
    {
        string unetDir = NetworkFolder(folder, useEma);
        string schedulerConfig = Path.Combine(folder, "scheduler", "scheduler_config.json");
        var overrides = new SamplerOverrides { KarrasSigmas = karrasSigmas, TimestepSpacing = spacing, Eta = eta != 0 ? eta : null, SingleShift = singleShift };
        return File.Exists(schedulerConfig)
            ? SchedulerFactory.FromConfigFile(schedulerConfig, samplerName, overrides)
            : SchedulerFactory.FromSchedule(new NoiseScheduleConfig(NumTrainTimesteps: DefaultTrainTimesteps(unetDir)), samplerName, overrides);
    }

    /// <summary>
    /// Generates <paramref name="count"/> samples, <paramref name="batchSize"/> at a time; sample i's noise depends only on
    /// (<paramref name="seed"/>, i), so the batch size does not change the images.
    /// </summary>
    /// <param name="count">How many samples.</param>
    /// <param name="steps">Sampler steps.</param>
    /// <param name="seed">The seed of the set (see <see cref="GenerateRange(int, int, int, long, Condition?, double, int, Action{int, SamplingStep}?)"/>).</param>
    /// <param name="classLabels">For a conditional model, the class of each image (length <paramref name="count"/>); null for unconditional sampling (a conditional model then gets its null class).</param>
    /// <param name="guidance">Classifier-free guidance scale w: eps = eps_uncond + w·(eps_cond - eps_uncond); 1 = plain conditional.</param>
    /// <param name="batchSize">Samples per network batch.</param>
    /// <param name="onStep">Called after each step of each batch, with the batch index.</param>
    /// <returns>[count, C, ...] float32 on the CPU, in the model's data range (a latent model's decoded images).</returns>
    public Tensor Generate(int count, int steps, long seed, IReadOnlyList<long>? classLabels = null, double guidance = 1.0,
        int batchSize = 64, Action<int, SamplingStep>? onStep = null)
    {
        return GenerateRange(0, count, steps, seed, classLabels, guidance, batchSize, onStep);
    }

    /// <summary>
    /// Generates samples <paramref name="first"/>..first+count-1 of the set <paramref name="seed"/> defines, with class labels
    /// (or none): see <see cref="GenerateRange(int, int, int, long, Condition?, double, int, Action{int, SamplingStep}?)"/>.
    /// </summary>
    /// <param name="first">Index of the first sample in the set.</param>
    /// <param name="count">How many samples.</param>
    /// <param name="steps">Sampler steps.</param>
    /// <param name="seed">The seed of the set.</param>
    /// <param name="classLabels">The class of each generated sample (<paramref name="count"/> of them), or null.</param>
    /// <param name="guidance">Classifier-free guidance scale w (1 = none); needs class labels.</param>
    /// <param name="batchSize">Samples per network batch.</param>
    /// <param name="onStep">Called after each step of each batch, with the batch index.</param>
    /// <returns>[count, C, ...] float32 in the model's data range (a latent model's decoded images).</returns>
    public Tensor GenerateRange(int first, int count, int steps, long seed, IReadOnlyList<long>? classLabels, double guidance = 1.0,
        int batchSize = 64, Action<int, SamplingStep>? onStep = null)
    {
        CheckConditioning(classLabels, guidance, count);
        using var condition = classLabels is null ? null
            : new ClassLabelCondition(torch.tensor(classLabels.ToArray(), dtype: ScalarType.Int64), NumClasses);
        return GenerateRange(first, count, steps, seed, condition, guidance, batchSize, onStep);
    }

    /// <summary>
    /// Generates <paramref name="count"/> samples under any condition (class labels, embeddings), <paramref name="batchSize"/>
    /// at a time: samples 0..count-1 of the set <paramref name="seed"/> defines (see <see cref="GenerateRange(int, int, int, long, Condition?, double, int, Action{int, SamplingStep}?)"/>).
    /// </summary>
    /// <param name="count">How many samples.</param>
    /// <param name="steps">Sampler steps.</param>
    /// <param name="seed">The seed; sample i's noise depends only on (seed, i).</param>
    /// <param name="condition">One row per sample; null = unconditional (a conditional model's null value, or none).</param>
    /// <param name="guidance">Classifier-free guidance scale w (1 = none); needs a condition.</param>
    /// <param name="batchSize">Samples per network batch.</param>
    /// <param name="onStep">Called after each step of each batch, with the batch index.</param>
    /// <returns>[count, C, ...] float32 on the CPU, in the model's data range (a latent model's decoded images).</returns>
    public Tensor Generate(int count, int steps, long seed, Condition? condition, double guidance = 1.0,
        int batchSize = 64, Action<int, SamplingStep>? onStep = null) =>
        GenerateRange(0, count, steps, seed, condition, guidance, batchSize, onStep);

    /// <summary>
    /// Generates samples <paramref name="first"/>..first+count-1 of the set <paramref name="seed"/> defines,
    /// <paramref name="batchSize"/> at a time. Sample i's initial noise x_T and the noise of its stochastic steps come from
    /// its own CPU generator, seeded by (seed, i) alone, so the set does not depend on how it is cut into batches or
    /// shared between processes (sharded sampling gathers bit-identical results).
    /// </summary>
    /// <param name="first">Index of the first sample in the set.</param>
    /// <param name="count">How many samples.</param>
    /// <param name="steps">Sampler steps.</param>
    /// <param name="seed">The seed of the set.</param>
    /// <param name="condition">One row per generated sample (<paramref name="count"/> rows); null = unconditional.</param>
    /// <param name="guidance">Classifier-free guidance scale w (1 = none); needs a condition.</param>
    /// <param name="batchSize">Samples per network batch.</param>
    /// <param name="onStep">Called after each step of each batch, with the batch index (0 = the range's first batch).</param>
    /// <returns>[count, C, ...] float32 in the model's data range (a latent model's decoded images).</returns>
    public Tensor GenerateRange(int first, int count, int steps, long seed, Condition? condition, double guidance = 1.0,
        int batchSize = 64, Action<int, SamplingStep>? onStep = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        if (count < 1) throw new InvalidInputException($"count must be at least 1 (got {count})", "DiffusionPipeline.count");
        if (batchSize < 1) throw new InvalidInputException($"batchSize must be at least 1 (got {batchSize})", "DiffusionPipeline.batchSize");
        if (condition is not null && condition.BatchSize != count) throw new ArgumentException("one condition row per sample is required", nameof(condition));
        if (condition is null && guidance != 1.0)
            throw new InvalidInputException("guidance needs a condition: guidance steers towards one", GuidanceProperty);
        var shape = Denoiser.Config.SampleShape
            ?? throw new InvalidInputException("config.json: sample_size is null; the sample size is unknown");
        long[] sampleShape = [.. shape.Select(d => (long)d)];
        var batches = new List<Tensor>();
        try
        {
            for (int start = 0, index = 0; start < count; start += batchSize, index++)
            {
                int b = Math.Min(batchSize, count - start);
                var generators = Enumerable.Range(first + start, b).Select(i => new Generator(SampleSeed(seed, i))).ToArray();
                try
                {
                    using var scope = torch.NewDisposeScope();
                    var batchCondition = condition?.Slice(start, b) ?? UnconditionalRows(b);
                    var loop = new SamplingLoop(Scheduler, ModelCall(batchCondition, condition is null ? 1.0 : guidance));
                    int batchIndex = index;
                    // Drawn on the CPU (a seed gives the same samples on every device), then moved to the network's device.
                    Tensor Noise()
                    {
                        var drawn = torch.stack(generators.Select(g => torch.randn(sampleShape, generator: g)));
                        return Denoiser.Device.type == DeviceType.CPU ? drawn : drawn.to(Denoiser.Device);
                    }
                    var initialNoise = Noise();
                    var denoised = loop.Denoise(initialNoise, steps, generator: null,
                        varianceNoise: Scheduler.Capabilities.Stochastic ? _ => Noise() : null,
                        onStep: onStep is null ? null : s => onStep(batchIndex, s));
                    batches.Add(Decode(denoised).MoveToOuterDisposeScope());
                }
                finally
                {
                    foreach (var g in generators) g.Dispose();
                }
            }
            var all = batches.Count == 1 ? batches[0].alias() : torch.cat(batches, 0);
            if (all.device.type == DeviceType.CPU) return all;
            using (all) return all.cpu();
        }
        finally
        {
            foreach (var t in batches) t.Dispose();
        }
    }

    /// <summary>
    /// Latents to images through <see cref="Vae"/> (in inference mode; the unclamped decoder output, as diffusers' output before
    /// its postprocessing); the tensor itself in pixel space.
    /// </summary>
    /// <param name="samples">[B, C, h, w] latents of a latent model, or pixels.</param>
    /// <returns>[B, image channels, h·f, w·f] on the sample's device; for a waveform model with a <c>data_scale</c>, samples / data_scale;
    /// for any other pixel model, <paramref name="samples"/> itself.</returns>
    public Tensor Decode(Tensor samples) => Vae is not null || Denoiser.Config.DataScale == 1
        ? ThroughVae(samples, (vae, z) => vae.LatentsToImage(z))
        : samples / Denoiser.Config.DataScale;

    /// <summary>Images to the latents the network sees through <see cref="Vae"/> (the posterior's mode); the tensor itself in pixel space.</summary>
    /// <param name="images">[B, C, H, W] in [-1, 1].</param>
    public Tensor Encode(Tensor images) => Vae is not null || Denoiser.Config.DataScale == 1
        ? ThroughVae(images, (vae, x) => vae.ImageToLatents(x))
        : images * Denoiser.Config.DataScale;

    /// <summary>
    /// Whether <see cref="Decode"/> changes what the network samples: a latent model's VAE decode, or the division by a
    /// waveform model's <c>data_scale</c>; false when samples are the output as they are.
    /// </summary>
    public bool DecodesSamples => Vae is not null || Denoiser.Config.DataScale != 1;

    /// <summary><paramref name="x"/> through one of <see cref="Vae"/>'s directions in inference mode, on the VAE's device and back; x itself without a VAE.</summary>
    private Tensor ThroughVae(Tensor x, Func<IAutoencoder, Tensor, Tensor> direction)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (Vae is null) return x;
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var y = direction(Vae, x.device_type == Vae.Device.type ? x : x.to(Vae.Device));
        if (y.device_type != x.device_type) y = y.to(x.device);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The seed of sample <paramref name="index"/>'s generator in the set of <paramref name="seed"/>.</summary>
    public static ulong SampleSeed(long seed, int index) => Data.SplitMix64.Hash((ulong)seed, (ulong)index, SampleNoiseStream);

    /// <summary>Tells the per-sample noise streams apart from other uses of the same seed.</summary>
    private const ulong SampleNoiseStream = 0x73616D706C65UL;

    /// <summary>
    /// The network call for the sampling loop with class labels (or none): see <see cref="ModelCall(Condition, double)"/>.
    /// </summary>
    public Func<Tensor, double, Tensor> ModelCall(Tensor? labels, double guidance) =>
        ModelCall(labels is null ? Condition.None(0) : new ClassLabelCondition(labels, NumClasses), guidance);

    /// <summary>
    /// The network call for the sampling loop: timestep broadcast to the batch; the condition as given; with guidance
    /// w != 1, the conditional and the unconditional outputs are computed in one doubled batch and combined
    /// (Ho and Salimans 2022, eq. 6). The sample is moved to the network's device and the output back to the sample's.
    /// </summary>
    /// <param name="condition">One row per sample of the batch the loop runs (a <see cref="NoCondition"/> of any size for an unconditional call).</param>
    /// <param name="guidance">The guidance scale; 1 = none.</param>
    public Func<Tensor, double, Tensor> ModelCall(Condition condition, double guidance)
    {
        var device = Denoiser.Device;
        var onDevice = condition.Kind == ConditionKind.None || device.type == DeviceType.CPU ? condition : condition.To(device);
        return (sample, t) =>
        {
            long b = sample.shape[0];
            using var scope = torch.NewDisposeScope();
            var x = sample.device_type == device.type ? sample : sample.to(device);
            var timestep = torch.full([b], t, dtype: ScalarType.Float32, device: device);
            Tensor output;
            if (onDevice.Kind == ConditionKind.None) output = Denoiser.Forward(x, timestep, Condition.None(b));
            else if (guidance == 1.0) output = Denoiser.Forward(x, timestep, onDevice);
            else
            {
                var both = Denoiser.Forward(torch.cat([x, x]), torch.cat([timestep, timestep]), onDevice.Concat(onDevice.Unconditional()));
                var conditional = both[..(int)b];
                var unconditional = both[(int)b..];
                output = unconditional + guidance * (conditional - unconditional);
            }
            if (output.device_type != sample.device_type) output = output.to(sample.device);
            return output.MoveToOuterDisposeScope();
        };
    }

    /// <summary>The unconditional input for <paramref name="rows"/> samples: the null class of a class-conditional model, none otherwise.</summary>
    internal Condition UnconditionalRows(int rows) => Denoiser.Config.Conditioning switch
    {
        ConditionKind.None => Condition.None(rows),
        ConditionKind.ClassLabel => new ClassLabelCondition(torch.full([rows], (long)NumClasses, dtype: ScalarType.Int64), NumClasses),
        _ => throw new InvalidInputException($"this {Denoiser.Config.ClassName} needs a condition to sample (its null value comes with the condition)", ConditionProperty),
    };

    internal void CheckConditioning(IReadOnlyList<long>? classLabels, double guidance, int count)
    {
        if (classLabels is null)
        {
            if (guidance != 1.0) throw new InvalidInputException("guidance needs class labels: guidance steers towards a class", GuidanceProperty);
            return;
        }
        if (NumClasses == 0) throw new InvalidInputException("condition: this model is unconditional (no num_class_embeds in its config.json)", ConditionProperty);
        if (classLabels.Count != count) throw new ArgumentException("one class label per image is required", nameof(classLabels));
        foreach (var label in classLabels)
            if (label < 0 || label >= NumClasses)
                throw new InvalidInputException($"condition: {label} is out of range; this model knows classes 0..{NumClasses - 1}", ConditionProperty);
        if (!double.IsFinite(guidance) || guidance < 0) throw new InvalidInputException($"guidance must be a number >= 0 (got {guidance})", GuidanceProperty);
    }

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the folder, the condition and the guidance scale.</summary>
    public const string FolderProperty = "DiffusionPipeline.folder", ConditionProperty = "DiffusionPipeline.condition", GuidanceProperty = "DiffusionPipeline.guidance";

    private static int DefaultTrainTimesteps(string unetDir) =>
        (Denoisers.LoadConfig(Path.Combine(unetDir, UNet2DModel.ConfigFileName)) as UNet2DConfig)?.NumTrainTimesteps ?? 1000;

    public void Dispose()
    {
        if (_ownsUnet) Denoiser.Dispose();
        if (_ownsVae) Vae?.Dispose();
    }
}
