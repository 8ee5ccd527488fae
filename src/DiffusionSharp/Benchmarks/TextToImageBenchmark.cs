using System.Diagnostics;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// One text-to-image run of a Stable Diffusion pipeline, timed by phase: the text encoder on the prompt and the negative
/// prompt (two forward calls of one 77-token row, as diffusers), every sampler step (one UNet call of the doubled batch
/// with guidance, then the scheduler), and the VAE decode. The run is <see cref="StableDiffusionPipeline.GenerateFromEmbeddings"/>,
/// the same code <c>diffuse sample --prompt</c> runs, in inference mode with a dispose scope per step.
/// </summary>
public static class TextToImageBenchmark
{
    /// <summary>What to run.</summary>
    /// <param name="Name">The pipeline's name for the report.</param>
    /// <param name="TextModel">The CLIP text model (eval mode).</param>
    /// <param name="Unet">The denoiser (eval mode).</param>
    /// <param name="Vae">The autoencoder (eval mode).</param>
    /// <param name="Scheduler">The sampler.</param>
    /// <param name="PromptIds">The prompt's token row (length at most the text model's positions).</param>
    /// <param name="NegativeIds">The negative prompt's token row, the same length.</param>
    /// <param name="Steps">Sampler steps.</param>
    /// <param name="Height">Image height, a multiple of the VAE factor.</param>
    /// <param name="Width">Image width, likewise.</param>
    /// <param name="Guidance">Classifier-free guidance scale; &gt; 1 doubles the UNet's batch.</param>
    /// <param name="Seed">Seed of the initial latents.</param>
    public sealed record Options(string Name, ClipTextModel TextModel, UNet2DConditionModel Unet, IAutoencoder Vae, IScheduler Scheduler,
        IReadOnlyList<long> PromptIds, IReadOnlyList<long> NegativeIds, int Steps = 20, int Height = 512, int Width = 512, double Guidance = 7.5,
        long Seed = 0)
    {
        /// <summary>Checks the values; an error names the property.</summary>
        /// <exception cref="InvalidInputException">A bad size, step count, guidance or token row.</exception>
        public void Validate()
        {
            StableDiffusionPipeline.CheckSize(Height, Width, Unet.Config, Vae.DownsamplingFactor);
            if (Steps < 1) throw InvalidInputException.For<Options>(nameof(Steps), $" must be at least 1 (got {Steps})");
            if (Scheduler.Schedule is { } schedule && Steps > schedule.NumTrainTimesteps)
                throw InvalidInputException.For<Options>(nameof(Steps), $" {Steps} exceeds the scheduler's {schedule.NumTrainTimesteps} training timesteps");
            if (!double.IsFinite(Guidance) || Guidance < 0) throw InvalidInputException.For<Options>(nameof(Guidance), $" must be a number >= 0 (got {Guidance})");
            int positions = TextModel.Config.MaxPositionEmbeddings;
            if (PromptIds.Count < 1 || PromptIds.Count > positions || NegativeIds.Count != PromptIds.Count)
                throw InvalidInputException.For<Options>(nameof(PromptIds), $" must be 1..{positions} tokens, as many as NegativeIds (got {PromptIds.Count} and {NegativeIds.Count})");
        }

        /// <summary>Whether the UNet runs the doubled batch (diffusers guides only when w &gt; 1).</summary>
        public bool Guided => Guidance > 1.0;
    }

    /// <summary>The measurement.</summary>
    /// <param name="Name">The pipeline's name.</param>
    /// <param name="Sampler">The sampler's name.</param>
    /// <param name="Steps">Sampler steps asked for.</param>
    /// <param name="Height">Image height.</param>
    /// <param name="Width">Image width.</param>
    /// <param name="Guidance">The guidance scale.</param>
    /// <param name="UnetBatch">Rows of each UNet call (2 with guidance).</param>
    /// <param name="Parameters">The parameters of the three networks, counted on the modules.</param>
    /// <param name="TextEncodeSeconds">Both text encoder calls.</param>
    /// <param name="StepSeconds">Each loop step (one UNet call and the scheduler's step); PNDM makes steps + 1 of them.</param>
    /// <param name="VaeDecodeSeconds">The VAE decode of the final latents.</param>
    /// <param name="GFlopsPerUnetCall">Forward GFLOPs of one UNet call (the whole batch, 77 context tokens).</param>
    /// <param name="GFlopsVaeDecode">Forward GFLOPs of the decode.</param>
    /// <param name="ImageFinite">Whether every value of the decoded image is finite (random weights still must not overflow).</param>
    /// <param name="Memory">Peak RSS (whole process, weights included); RSS before the text encoder and after the decode; live tensors
    /// before the run and after it (the scheduler's step history released), equal when the run leaves nothing behind.</param>
    /// <param name="PeakRssByPhaseMiB">The process's peak RSS so far after the text encoder, after the last step and after the decode
    /// (monotonic: the phase where it rises is the one that set the peak); null off Linux.</param>
    /// <param name="LoadAverageAtStart">1-minute load average before the run (the end's is in <see cref="MachineInfo.LoadAverage"/>).</param>
    /// <param name="Machine">Where it ran, at the end of the run.</param>
    public sealed record Result(string Name, string Sampler, int Steps, int Height, int Width, double Guidance, int UnetBatch,
        PipelineParameterCounts Parameters, double TextEncodeSeconds, IReadOnlyList<double> StepSeconds, double VaeDecodeSeconds,
        double GFlopsPerUnetCall, double GFlopsVaeDecode, bool ImageFinite, MemoryUse Memory,
        PhaseValues? PeakRssByPhaseMiB, double? LoadAverageAtStart, MachineInfo Machine)
    {
        /// <summary>Loop steps run (UNet calls).</summary>
        public int UnetCalls => StepSeconds.Count;

        /// <summary>Median seconds per loop step.</summary>
        public double MedianStepSeconds => Median(StepSeconds);

        /// <summary>Fastest loop step.</summary>
        public double MinStepSeconds => StepSeconds.Min();

        /// <summary>Slowest loop step.</summary>
        public double MaxStepSeconds => StepSeconds.Max();

        /// <summary>All loop steps together.</summary>
        public double DenoiseSeconds => StepSeconds.Sum();

        /// <summary>Seconds for the image: text encoder, every step, VAE decode (building the networks excluded).</summary>
        public double TotalSeconds => TextEncodeSeconds + DenoiseSeconds + VaeDecodeSeconds;

        /// <summary>Achieved GFLOP/s of the UNet calls at the median step.</summary>
        public double UnetGFlopsPerSecond => GFlopsPerUnetCall / MedianStepSeconds;

        private static double Median(IReadOnlyList<double> values)
        {
            var sorted = values.Order().ToArray();
            int n = sorted.Length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
    }

    /// <summary>A value per phase of the run.</summary>
    /// <param name="TextEncoder">After the text encoder.</param>
    /// <param name="Denoise">After the last step.</param>
    /// <param name="VaeDecode">After the VAE decode.</param>
    public sealed record PhaseValues(double TextEncoder, double Denoise, double VaeDecode);

    /// <summary>Runs one image and reports.</summary>
    /// <param name="options">What to run; validated here.</param>
    /// <param name="onStep">Called after each loop step with its index, the step count and its seconds (progress output).</param>
    /// <param name="cancellationToken">Checked after each step.</param>
    public static Result Run(Options options, Action<int, int, double>? onStep = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var o = options;
        var parameters = new PipelineParameterCounts(o.Unet.parameters().Sum(p => p.numel()), o.TextModel.parameters().Sum(p => p.numel()),
            o.Vae.Module.parameters().Sum(p => p.numel()));
        double? loadAtStart = MachineInfo.Current().LoadAverage;
        var start = MemoryUse.Snapshot();
        var clock = Stopwatch.StartNew();
        double textSeconds, lastStep = 0;
        var steps = new List<double>();
        bool finite;
        long? peakAfterText = null, peakAfterSteps = null;
        using (inference_mode())
        {
            using var promptEmbeds = Encode(o.TextModel, o.PromptIds);
            using var negativeEmbeds = o.Guided ? Encode(o.TextModel, o.NegativeIds) : null;
            textSeconds = clock.Elapsed.TotalSeconds;
            peakAfterText = ProcessMemory.PeakRssBytes();
            lastStep = textSeconds;
            using var result = StableDiffusionPipeline.GenerateFromEmbeddings(o.Unet, o.Vae, o.Scheduler, promptEmbeds, negativeEmbeds,
                o.Guidance, o.Steps, o.Height, o.Width, o.Seed, onStep: s =>
                {
                    double now = clock.Elapsed.TotalSeconds;
                    steps.Add(now - lastStep);
                    lastStep = now;
                    peakAfterSteps = ProcessMemory.PeakRssBytes();
                    onStep?.Invoke(s.Index, s.Count, steps[^1]);
                    cancellationToken.ThrowIfCancellationRequested();
                });
            using var scope = NewDisposeScope();
            finite = result.Image.isfinite().all().item<bool>();
        }
        double decodeSeconds = clock.Elapsed.TotalSeconds - lastStep;
        long? peakAfterDecode = ProcessMemory.PeakRssBytes();
        var peaks = peakAfterText is { } a && peakAfterSteps is { } b && peakAfterDecode is { } c
            ? new PhaseValues(ProcessMemory.ToMiB(a)!.Value, ProcessMemory.ToMiB(b)!.Value, ProcessMemory.ToMiB(c)!.Value) : null;
        // The scheduler keeps its last outputs for the next step (PNDM up to four) until the next SetTimesteps: release them
        // so the live tensor count compares the networks' state before and after the run.
        o.Scheduler.SetTimesteps(o.Steps);
        var memory = MemoryUse.Since(start);
        int f = o.Vae.DownsamplingFactor, batch = o.Guided ? 2 : 1;
        double unetGFlops = batch * o.Unet.FlopsPerImage(o.Height / f, o.Width / f, o.PromptIds.Count) / 1e9;
        return new Result(o.Name, o.Scheduler.Name, o.Steps, o.Height, o.Width, o.Guidance, batch, parameters, textSeconds, steps, decodeSeconds,
            unetGFlops, o.Vae.DecodeFlops(o.Height, o.Width) / 1e9, finite, memory, peaks, loadAtStart, MachineInfo.Current());
    }

    /// <summary>
    /// A fixed token row for a pipeline without a tokenizer: bos, ten ids of ordinary words, eos, then eos as padding up to
    /// <paramref name="length"/> (CLIP's padding in Stable Diffusion 1.x). The text encoder's cost does not depend on the ids;
    /// they do not claim to spell a particular prompt.
    /// </summary>
    public static long[] FixedPromptIds(int length = 77, long bos = 49406, long eos = 49407) =>
        Row(length, bos, eos, [320, 1125, 539, 550, 18376, 6765, 320, 4558, 525, 7496]);

    /// <summary>The empty prompt's row: bos, eos, eos padding (diffusers' default negative prompt "").</summary>
    public static long[] EmptyPromptIds(int length = 77, long bos = 49406, long eos = 49407) => Row(length, bos, eos, []);

    private static long[] Row(int length, long bos, long eos, long[] words)
    {
        if (length < words.Length + 2) throw new ArgumentOutOfRangeException(nameof(length), length, $"a row needs at least {words.Length + 2} positions");
        var row = Enumerable.Repeat(eos, length).ToArray();
        row[0] = bos;
        words.CopyTo(row, 1);
        return row;
    }

    /// <summary>The text model's last hidden state <c>[1, L, D]</c> for one row, as the pipeline's text encoder gives it.</summary>
    private static Tensor Encode(ClipTextModel model, IReadOnlyList<long> ids)
    {
        using var scope = NewDisposeScope();
        var input = tensor(ids.ToArray(), [1, ids.Count], ScalarType.Int64, model.Device);
        using var output = model.forward(input, null);
        return output.LastHiddenState.clone().MoveToOuterDisposeScope();
    }
}
