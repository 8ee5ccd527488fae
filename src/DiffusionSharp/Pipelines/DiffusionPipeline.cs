using DiffusionSharp.Models;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// A U-Net and a sampler loaded from a diffusers folder: a pipeline folder (<c>model_index.json</c>, <c>unet/</c>,
/// <c>scheduler/</c>; our training runs are such folders, with <c>unet_ema/</c> too) or a bare UNet2DModel folder
/// (<c>config.json</c> + weights, sampled with diffusers' default DDPM schedule). It builds the model call the sampling
/// loop runs, with class conditioning and classifier-free guidance.
/// </summary>
public sealed class DiffusionPipeline : IDisposable
{
    private readonly bool _ownsUnet;

    private DiffusionPipeline(UNet2DModel unet, IScheduler scheduler, string source, bool isEma, bool ownsUnet = true)
    {
        Unet = unet;
        Scheduler = scheduler;
        Source = source;
        IsEma = isEma;
        _ownsUnet = ownsUnet;
    }

    /// <summary>
    /// A pipeline over a model already in memory (for example a training run's EMA model); disposing the pipeline
    /// leaves the model alone.
    /// </summary>
    public static DiffusionPipeline FromModel(UNet2DModel unet, IScheduler scheduler) =>
        new(unet, scheduler, source: "(in memory)", isEma: false, ownsUnet: false);

    /// <summary>The network, in eval mode.</summary>
    public UNet2DModel Unet { get; }

    /// <summary>The sampler.</summary>
    public IScheduler Scheduler { get; }

    /// <summary>The folder the pipeline came from.</summary>
    public string Source { get; }

    /// <summary>Whether the EMA weights were loaded.</summary>
    public bool IsEma { get; }

    /// <summary>Number of real classes of a class-conditional model (its last embedding is the null class); 0 when unconditional.</summary>
    public int NumClasses => Unet.Config.NumClassEmbeds is { } n ? n - 1 : 0;

    /// <summary>Loads a pipeline.</summary>
    /// <param name="folder">A pipeline folder, a training run, or a bare UNet2DModel folder.</param>
    /// <param name="useEma">Load <c>unet_ema/</c> instead of <c>unet/</c>.</param>
    /// <param name="samplerName">A sampler (ddpm, ddim, ...) to use over the folder's training schedule; null = the folder's own.</param>
    /// <param name="eta">DDIM's noise scale (0 = deterministic); only for the ddim sampler.</param>
    /// <param name="karrasSigmas">Karras et al. 2022 noise levels (samplers with <c>use_karras_sigmas</c> only).</param>
    /// <param name="spacing">The inference timestep spacing; null keeps the folder's (or the sampler's) own.</param>
    /// <exception cref="InvalidInputException">The folder is missing parts or they are malformed.</exception>
    public static DiffusionPipeline Load(string folder, bool useEma = false, string? samplerName = null, double eta = 0,
        bool karrasSigmas = false, TimestepSpacing? spacing = null)
    {
        if (!Directory.Exists(folder)) throw new InvalidInputException($"--model: {folder} does not exist");
        string unetDir;
        bool isPipeline = File.Exists(Path.Combine(folder, "model_index.json")) || Directory.Exists(Path.Combine(folder, "unet"));
        if (isPipeline)
        {
            unetDir = Path.Combine(folder, useEma ? "unet_ema" : "unet");
            if (!Directory.Exists(unetDir))
                throw new InvalidInputException($"--model: {folder} has no {(useEma ? "unet_ema" : "unet")}/ folder{(useEma ? " (drop --ema)" : "")}");
        }
        else if (File.Exists(Path.Combine(folder, UNet2DModel.ConfigFileName)))
        {
            if (useEma) throw new InvalidInputException($"--ema: {folder} is a bare UNet2DModel folder with no EMA weights");
            unetDir = folder;
        }
        else
        {
            throw new InvalidInputException($"--model: {folder} is neither a diffusers pipeline folder (model_index.json, unet/) nor a UNet2DModel folder (config.json)");
        }

        string schedulerConfig = Path.Combine(folder, "scheduler", "scheduler_config.json");
        var overrides = new SamplerOverrides { KarrasSigmas = karrasSigmas, TimestepSpacing = spacing, Eta = eta != 0 ? eta : null };
        IScheduler scheduler = File.Exists(schedulerConfig)
            ? SchedulerFactory.FromConfigFile(schedulerConfig, samplerName, overrides)
            : SchedulerFactory.FromSchedule(new NoiseScheduleConfig(NumTrainTimesteps: DefaultTrainTimesteps(unetDir)), samplerName, overrides);

        var unet = UNet2DModel.FromPretrained(unetDir);
        unet.eval();
        return new DiffusionPipeline(unet, scheduler, folder, useEma);
    }

    /// <summary>
    /// Generates <paramref name="count"/> images, <paramref name="batchSize"/> at a time, from one seeded CPU generator.
    /// </summary>
    /// <param name="count">How many images.</param>
    /// <param name="steps">Sampler steps.</param>
    /// <param name="seed">Seed of the generator that draws x_T and every stochastic step's noise.</param>
    /// <param name="classLabels">For a conditional model, the class of each image (length <paramref name="count"/>); null for unconditional sampling (a conditional model then gets its null class).</param>
    /// <param name="guidance">Classifier-free guidance scale w: eps = eps_uncond + w·(eps_cond - eps_uncond); 1 = plain conditional.</param>
    /// <param name="batchSize">Images per network batch.</param>
    /// <param name="onStep">Called after each step of each batch, with the batch index.</param>
    /// <returns>[count, C, H, W] float32 in the model's data range.</returns>
    public Tensor Generate(int count, int steps, long seed, IReadOnlyList<long>? classLabels = null, double guidance = 1.0,
        int batchSize = 64, Action<int, SamplingStep>? onStep = null)
    {
        if (count < 1) throw new InvalidInputException($"--count must be at least 1 (got {count})");
        if (batchSize < 1) throw new InvalidInputException($"--batch must be at least 1 (got {batchSize})");
        CheckConditioning(classLabels, guidance, count);
        var config = Unet.Config;
        int size = config.SampleSize ?? throw new InvalidInputException("config.json: sample_size is null; the image size is unknown");
        using var generator = new Generator((ulong)seed);
        var batches = new List<Tensor>();
        try
        {
            for (int start = 0, index = 0; start < count; start += batchSize, index++)
            {
                int b = Math.Min(batchSize, count - start);
                // A class-conditional model asked for no class draws unconditionally: the null class it was trained with.
                using var labels = classLabels is not null ? torch.tensor(classLabels.Skip(start).Take(b).ToArray(), dtype: ScalarType.Int64)
                    : NumClasses > 0 ? torch.full([b], (long)NumClasses, dtype: ScalarType.Int64)
                    : null;
                var loop = new SamplingLoop(Scheduler, ModelCall(labels, classLabels is null ? 1.0 : guidance));
                int batchIndex = index;
                batches.Add(loop.Sample([b, config.InChannels, size, size], steps, generator,
                    onStep is null ? null : s => onStep(batchIndex, s)));
            }
            return torch.cat(batches, 0);
        }
        finally
        {
            foreach (var t in batches) t.Dispose();
        }
    }

    /// <summary>
    /// The network call for the sampling loop: timestep broadcast to the batch; with labels, conditional; with guidance
    /// w != 1, the conditional and the null-class outputs are computed in one doubled batch and combined
    /// (Ho and Salimans 2022, eq. 6).
    /// </summary>
    public Func<Tensor, double, Tensor> ModelCall(Tensor? labels, double guidance)
    {
        return (sample, t) =>
        {
            long b = sample.shape[0];
            using var timestep = torch.full([b], t, dtype: ScalarType.Float32);
            if (labels is null) return Unet.forward(sample, timestep, null);
            if (guidance == 1.0) return Unet.forward(sample, timestep, labels);
            using var scope = torch.NewDisposeScope();
            var nullLabels = torch.full_like(labels, Unet.Config.NumClassEmbeds!.Value - 1);
            var both = Unet.forward(torch.cat([sample, sample]), torch.cat([timestep, timestep]), torch.cat([labels, nullLabels]));
            var conditional = both[..(int)b];
            var unconditional = both[(int)b..];
            return (unconditional + guidance * (conditional - unconditional)).MoveToOuterDisposeScope();
        };
    }

    internal void CheckConditioning(IReadOnlyList<long>? classLabels, double guidance, int count)
    {
        if (classLabels is null)
        {
            if (guidance != 1.0) throw new InvalidInputException("--guidance needs --class: guidance steers towards a class");
            return;
        }
        if (NumClasses == 0) throw new InvalidInputException("--class: this model is unconditional (no num_class_embeds in its config.json)");
        if (classLabels.Count != count) throw new ArgumentException("one class label per image is required", nameof(classLabels));
        foreach (var label in classLabels)
            if (label < 0 || label >= NumClasses)
                throw new InvalidInputException($"--class: {label} is out of range; this model knows classes 0..{NumClasses - 1}");
        if (!double.IsFinite(guidance) || guidance < 0) throw new InvalidInputException($"--guidance must be a number >= 0 (got {guidance})");
    }

    private static int DefaultTrainTimesteps(string unetDir) =>
        UNet2DConfig.Load(Path.Combine(unetDir, UNet2DModel.ConfigFileName)).NumTrainTimesteps ?? 1000;

    public void Dispose()
    {
        if (_ownsUnet) Unet.Dispose();
    }
}
