using System.Diagnostics;
using DiffusionSharp.Models;
using DiffusionSharp.Samplers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// Sampling throughput: complete runs of the <see cref="SamplingLoop"/> (noise, then predict and step at every timestep),
/// each step timed through the loop's step callback. The first <see cref="WindowPlan.Warmup"/> steps are dropped and the
/// rest split into windows of consecutive steps. Runs repeat until <see cref="WindowPlan.Seconds"/> have passed (at least
/// one run, and at least one timed step per window). Class-conditional models are sampled with the null class. After the
/// runs, the loop's step is timed against a bare network call (<see cref="StepOverhead"/>).
/// </summary>
public static class SampleBenchmark
{
    /// <summary>What to sample.</summary>
    /// <param name="Name">The model's name for the report.</param>
    /// <param name="Model">The network (switched to eval mode); randomly initialised or trained, the speed is the same.</param>
    /// <param name="Scheduler">The sampler.</param>
    /// <param name="Steps">Sampler steps per run.</param>
    /// <param name="Batch">Images per run.</param>
    /// <param name="Profile">After the runs, replay one network call by op class (<see cref="OpProfile"/>).</param>
    /// <param name="Vae">A latent model's autoencoder: every run ends by decoding its latents to images, timed in the run (<see cref="Result.DecodeSeconds"/>).</param>
    public sealed record Options(string Name, IDenoiser Model, IScheduler Scheduler, int Steps = 50, int Batch = 64, bool Profile = false,
        Models.Autoencoders.IAutoencoder? Vae = null) : IBenchmarkOptions
    {
        /// <summary>Checks the values; an error names the property.</summary>
        public void Validate()
        {
            if (Steps < 1) throw InvalidInputException.For<Options>(nameof(Steps), $" must be at least 1 (got {Steps})");
            if (Batch < 1) throw InvalidInputException.For<Options>(nameof(Batch), $" must be at least 1 (got {Batch})");
            if (Scheduler.Schedule is { } schedule && Steps > schedule.NumTrainTimesteps)
                throw InvalidInputException.For<Options>(nameof(Steps), $" {Steps} exceeds the model's {schedule.NumTrainTimesteps} training timesteps");
        }
    }

    /// <summary>The measurement; the unit of <see cref="Timing"/> is one sampler step of the whole batch.</summary>
    /// <param name="Model">The model's name.</param>
    /// <param name="Sampler">The sampler's name.</param>
    /// <param name="Steps">Steps per run.</param>
    /// <param name="Batch">Images per run.</param>
    /// <param name="GFlopsPerImage">Forward GFLOPs per image.</param>
    /// <param name="Timing">The windows of steps.</param>
    /// <param name="NetworkCalls">Network calls in the timed steps (one per step for DDIM and DDPM).</param>
    /// <param name="RunSeconds">Wall-clock seconds of every complete run, warm-up included.</param>
    /// <param name="Ceiling">The GFLOP/s the efficiency is relative to.</param>
    /// <param name="Memory">Peak RSS; RSS after the first run and after the last; live tensors before the first run and after the last.</param>
    /// <param name="Machine">Where it ran.</param>
    /// <param name="Ops">One network call by op class, or null without a profile.</param>
    /// <param name="DecodeSeconds">A latent model's VAE decode of every run's batch (included in <paramref name="RunSeconds"/>); empty in pixel space.</param>
    /// <param name="Overhead">
    /// The loop's step (timestep tensor, input scaling, network call, scheduler step, noise, dispose scope) against the
    /// network call alone on tensors made beforehand (as many calls as a step makes), measured after the runs.
    /// </param>
    public sealed record Result(string Model, string Sampler, int Steps, int Batch, double GFlopsPerImage, WindowTiming Timing, int NetworkCalls,
        IReadOnlyList<double> RunSeconds, PerformanceCeiling Ceiling, MemoryUse Memory, MachineInfo Machine, OpBreakdown? Ops = null,
        IReadOnlyList<double>? DecodeSeconds = null, StepOverhead? Overhead = null)
    {
        /// <summary>Median seconds of a complete run (every step, and a latent model's decode) divided by the batch: the wall-clock cost of one image.</summary>
        public double SecondsPerImage => Median(RunSeconds.Count > 1 ? RunSeconds.Skip(1).ToList() : RunSeconds) / Batch;

        private static double Median(IReadOnlyList<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }

        /// <summary>Images per second from the median step time: batch / (steps x seconds per step).</summary>
        public double ImagesPerSecond => Batch / (Steps * Timing.MedianSecondsPerUnit);

        /// <summary>Median seconds per sampler step of the whole batch.</summary>
        public double SecondsPerStep => Timing.MedianSecondsPerUnit;

        /// <summary>Seconds per network call (of the whole batch) over the timed steps.</summary>
        public double SecondsPerNetworkCall => Timing.TimedSeconds / NetworkCalls;

        /// <summary>Achieved GFLOP/s of the network calls.</summary>
        public double AchievedGFlopsPerSecond => GFlopsPerImage * Batch / SecondsPerNetworkCall;

        /// <summary>Achieved / ceiling.</summary>
        public double Efficiency => Ceiling.EfficiencyOf(AchievedGFlopsPerSecond);
    }

    /// <summary>Runs the sampling loop until the plan's time is used and reports.</summary>
    public static Result Run(Options options, WindowPlan plan, PerformanceCeiling ceiling, CancellationToken cancellationToken = default)
    {
        BenchmarkSetup.Check(options, plan, ceiling);
        var model = options.Model;
        var config = model.Config;
        var (shape, stats) = BenchmarkSetup.ForInference(model, "SampleBenchmark.Options.Model");

        var device = model.Device;
        bool onCpu = device.type == DeviceType.CPU;
        using var condition = ForwardBenchmark.NullCondition(config, options.Batch, device);
        int calls = 0;
        // The loop's samples live on the CPU (its generator's device); a network elsewhere gets a copy and returns one.
        var loop = new SamplingLoop(options.Scheduler, (x, t) =>
        {
            calls++;
            using var timestep = torch.full([x.shape[0]], t, dtype: ScalarType.Float32, device: device);
            if (onCpu) return model.Forward(x, timestep, condition);
            using var input = x.to(device);
            using var output = model.Forward(input, timestep, condition);
            return output.to(x.device);
        });

        var stepSeconds = new List<double>();
        var stepCalls = new List<int>();
        var runSeconds = new List<double>();
        var decodeSeconds = new List<double>();
        var clock = Stopwatch.StartNew();
        double last = 0;
        int callsBefore = 0;
        long tensorsBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long? rssAfterFirstRun = null;
        using var generator = new Generator(0);
        do
        {
            double runStart = clock.Elapsed.TotalSeconds;
            last = runStart;
            using (var samples = loop.Sample([options.Batch, .. shape.Select(d => (long)d)], options.Steps, generator, _ =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                double now = clock.Elapsed.TotalSeconds;
                stepSeconds.Add(now - last);
                stepCalls.Add(calls - callsBefore);
                callsBefore = calls;
                last = now;
            }))
            {
                if (options.Vae is { } vae)
                {
                    double decodeStart = clock.Elapsed.TotalSeconds;
                    using (torch.inference_mode())
                    using (var images = vae.LatentsToImage(onCpu || vae.Device.type == DeviceType.CPU ? samples : samples.to(vae.Device)))
                        decodeSeconds.Add(clock.Elapsed.TotalSeconds - decodeStart);
                }
                runSeconds.Add(clock.Elapsed.TotalSeconds - runStart);
            }
            rssAfterFirstRun ??= ProcessMemory.CurrentRssBytes();
        }
        while (clock.Elapsed.TotalSeconds < plan.Seconds || stepSeconds.Count - plan.Warmup < plan.Windows);
        // Tensors: before the first run against after the overhead measurement that follows the last (neither may leave any
        // behind). RSS: after the first run, when the allocator has seen a whole run, against after the last; peak: of the runs.
        double? peakMiB = ProcessMemory.ToMiB(ProcessMemory.PeakRssBytes()), rssEndMiB = ProcessMemory.ToMiB(ProcessMemory.CurrentRssBytes());
        var timing = WindowTimer.FromDurations(stepSeconds, plan.Warmup, plan.Windows);
        int timedCalls = stepCalls.Skip(plan.Warmup).Sum();
        var overhead = MeasureOverhead(loop, model, condition, options, shape, timing.MedianSecondsPerUnit,
            (double)timedCalls / timing.TimedUnits, plan, cancellationToken);
        var memory = new MemoryUse(peakMiB, ProcessMemory.ToMiB(rssAfterFirstRun), rssEndMiB, tensorsBefore,
            DisposeScopeManager.Statistics.ThreadTotalLiveCount, []);
        OpBreakdown? ops = null;
        if (options.Profile)
        {
            bool wasTraining = model.Module.training;
            model.Module.eval();
            ops = new OpBreakdown(OpProfile.Measure(model, options.Batch, training: false, cancellationToken: cancellationToken),
                timing.TimedSeconds / timedCalls * 1e3, ceiling);
            model.Module.train(wasTraining);
        }
        return new Result(options.Name, options.Scheduler.Name, options.Steps, options.Batch, stats.GFlopsPerSample, timing, timedCalls,
            runSeconds, ceiling, memory, MachineInfo.Current(), ops, decodeSeconds, overhead);
    }

    /// <summary>
    /// The loop's step against a bare network call in <see cref="WindowPlan.Windows"/> alternating pairs of blocks within
    /// <see cref="StepOverhead.ShareOfPlan"/> of the plan's seconds, both under inference mode and warmed up first. The real
    /// unit is the next step of a run, through <see cref="SamplingLoop.Step"/> as the timed runs take it (a new run, from
    /// fresh noise, begins when one ends); the bare unit is one network call on an input and a timestep tensor made
    /// once, in a dispose scope of its own, run <paramref name="callsPerStep"/> times per real step.
    /// </summary>
    private static StepOverhead MeasureOverhead(SamplingLoop loop, IDenoiser model, Conditioning.Condition condition, Options options,
        IReadOnlyList<int> shape, double realSecondsPerStep, double callsPerStep, WindowPlan plan, CancellationToken cancellationToken)
    {
        long[] size = [options.Batch, .. shape.Select(d => (long)d)];
        using var inference = torch.inference_mode();
        using var generator = new Generator(1);
        IReadOnlyList<double> timesteps = [];
        Tensor? sample = null;
        int index = 0;
        void Real()
        {
            if (sample is null || index == timesteps.Count)
            {
                sample?.Dispose();
                using var noise = randn(size, generator: generator);
                sample = loop.Begin(noise, options.Steps);
                timesteps = loop.Scheduler.Timesteps;
                index = 0;
            }
            var next = loop.Step(sample, timesteps, index++, generator, null, null);
            sample.Dispose();
            sample = next;
        }
        using var drawn = randn(size, generator: generator);
        using var input = model.Device.type == DeviceType.CPU ? drawn.alias() : drawn.to(model.Device);
        using var timestep = torch.full([options.Batch], options.Scheduler.Schedule?.NumTrainTimesteps / 2 ?? 500, dtype: ScalarType.Float32, device: model.Device);
        void Bare()
        {
            using var scope = NewDisposeScope();
            model.Forward(input, timestep, condition);
        }
        try
        {
            for (int i = 0; i < Math.Max(1, plan.Warmup); i++)
            {
                Real();
                Bare();
            }
            return StepOverhead.Measure(Real, Bare, realSecondsPerStep, plan.Seconds * StepOverhead.ShareOfPlan, plan.Windows,
                cancellationToken, Math.Max(callsPerStep, 1e-3));
        }
        finally
        {
            sample?.Dispose();
        }
    }
}
