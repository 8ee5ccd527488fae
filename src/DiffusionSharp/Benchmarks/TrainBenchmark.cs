using System.Diagnostics;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Schedules;
using DiffusionSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// Training throughput: real <see cref="Trainer"/> steps (batch from the loader, t and noise, forward, MSE, backward,
/// gradient clipping, AdamW, EMA) on the bundled MNIST digits, or on seeded random images when the model's input is not
/// 1x28x28 (of any rank), timed in windows after a warm-up; then the same step against a bare one (<see cref="StepOverhead"/>).
/// The trainer writes nothing but an empty <c>loss.csv</c> in a temporary folder, deleted afterwards.
/// </summary>
public static class TrainBenchmark
{
    /// <summary>What to train.</summary>
    /// <param name="Name">The model's name for the report (a preset name or a path).</param>
    /// <param name="Config">The architecture, any network's (randomly initialised with seed 0).</param>
    /// <param name="Batch">Images per step.</param>
    /// <param name="ProfileSteps">After the timed windows, this many more steps timed phase by phase (0 = no profile).</param>
    /// <param name="MicroBatch">Gradient-accumulation chunk size (null = the whole batch), as <see cref="TrainingOptions.MicroBatchSize"/>.</param>
    /// <param name="Device">Where the network trains (null = the CPU).</param>
    /// <param name="ChannelsLast">Train a UNet2DModel channels-last (<see cref="UNet2DModel.UseChannelsLast"/>).</param>
    /// <param name="CheckpointActivations">Recompute each U-Net block's activations in backward (<see cref="UNet2DModel.CheckpointActivations"/>).</param>
    public sealed record Options(string Name, IDenoiserConfig Config, int Batch = 128, int ProfileSteps = 0, int? MicroBatch = null, Device? Device = null,
        bool ChannelsLast = false, bool CheckpointActivations = false)
        : IBenchmarkOptions
    {
        /// <summary>Checks the values; an error names the property.</summary>
        public void Validate()
        {
            if (Batch < 1) throw InvalidInputException.For<Options>(nameof(Batch), $" must be at least 1 (got {Batch})");
            if (MicroBatch is < 1) throw InvalidInputException.For<Options>(nameof(MicroBatch), $" must be at least 1 (got {MicroBatch})");
            if (ProfileSteps < 0) throw InvalidInputException.For<Options>(nameof(ProfileSteps), $" must be 0 or more steps (got {ProfileSteps})");
        }
    }

    /// <summary>The measurement; the unit of <see cref="Timing"/> is one training step.</summary>
    /// <param name="Model">The model's name.</param>
    /// <param name="Parameters">Trainable parameters.</param>
    /// <param name="Batch">Images per step.</param>
    /// <param name="ImageShape">The sample shape [C, ...].</param>
    /// <param name="Data">"mnist" (bundled digits) or "synthetic" (seeded random pixels).</param>
    /// <param name="GFlopsPerImage">Forward GFLOPs per image (<see cref="ModelStats"/>).</param>
    /// <param name="Timing">The windows.</param>
    /// <param name="Ceiling">The GFLOP/s the efficiency is relative to.</param>
    /// <param name="Memory">Peak RSS and the start and end of the timed windows.</param>
    /// <param name="Profile">Mean time per phase of a step, or empty.</param>
    /// <param name="Ops">Where the forward and backward phases' time goes by op class (<see cref="OpProfile"/>), or null without a profile.</param>
    /// <param name="SkippedSteps">Steps with a non-finite loss or gradient (skipped, as training does).</param>
    /// <param name="Machine">Where it ran.</param>
    /// <param name="Processes">Processes training data-parallel (1 = alone); <paramref name="Batch"/> is the global batch.</param>
    /// <param name="AllreduceMsPerStep">Mean milliseconds per step in the gradient all-reduce over the timed windows (0 alone).</param>
    /// <param name="Overhead">The trainer's step against a bare one (<see cref="StepOverhead"/>), measured after the windows; null data-parallel.</param>
    /// <param name="CheckpointActivations">Whether the U-Net blocks recomputed their activations in backward.</param>
    public sealed record Result(string Model, long Parameters, int Batch, int[] ImageShape, string Data, double GFlopsPerImage,
        WindowTiming Timing, PerformanceCeiling Ceiling, MemoryUse Memory, IReadOnlyList<PhaseTime> Profile, int SkippedSteps, MachineInfo Machine,
        int Processes = 1, double AllreduceMsPerStep = 0, OpBreakdown? Ops = null, StepOverhead? Overhead = null,
        bool CheckpointActivations = false)
    {
        /// <summary>Median images per second.</summary>
        public double ImagesPerSecond => Batch / Timing.MedianSecondsPerUnit;

        /// <summary>Median milliseconds per step.</summary>
        public double MsPerStep => Timing.MedianSecondsPerUnit * 1e3;

        /// <summary>Achieved GFLOP/s, counting forward + backward as 3x the forward FLOPs (backward computes two gradients per layer).</summary>
        public double AchievedGFlopsPerSecond => 3 * GFlopsPerImage * ImagesPerSecond;

        /// <summary>Achieved / ceiling (the ceiling of one process, measured by each, times the processes).</summary>
        public double Efficiency => Ceiling.EfficiencyOf(AchievedGFlopsPerSecond / Processes);
    }

    /// <summary>Builds the model and a trainer, warms up, measures, and optionally profiles.</summary>
    /// <exception cref="InvalidInputException">Invalid options (e.g. a batch larger than the dataset).</exception>
    public static Result Run(Options options, WindowPlan plan, PerformanceCeiling ceiling, CancellationToken cancellationToken = default) =>
        Run(options, plan, ceiling, group: null, cancellationToken);

    /// <summary>
    /// The benchmark of data-parallel training when <paramref name="group"/> is given: every process runs the same
    /// steps on its shard of the global batch, with the gradient all-reduce (<see cref="Distributed.DataParallelReducer"/>),
    /// and rank 0's clock ends the windows for all.
    /// </summary>
    public static Result Run(Options options, WindowPlan plan, PerformanceCeiling ceiling, Distributed.IProcessGroup? group,
        CancellationToken cancellationToken = default)
    {
        BenchmarkSetup.Check(options, plan, ceiling);
        var config = options.Config;
        var shape = config.SampleShape ?? throw InvalidInputException.For<Options>(nameof(Options.Config), ": the config has no sample_size, so the image size is unknown");
        var (data, dataName) = shape.SequenceEqual([1, 28, 28])
            ? ((IDataset)IdxDataset.Mnist(), "mnist")
            : (new SyntheticSamples(Math.Max(1024, options.Batch), shape), "synthetic");
        var training = new TrainingOptions
        {
            Steps = int.MaxValue,
            BatchSize = options.Batch,
            MicroBatchSize = options.MicroBatch,
            WarmupSteps = 0,
            Decay = LearningRateDecay.Constant,
            CheckpointEvery = 0,
            SampleEvery = 0,
        };
        var schedule = new NoiseScheduleConfig((config as UNet2DConfig)?.NumTrainTimesteps ?? 1000);
        var role = group is null ? ProcessRole.Single : new ProcessRole(group.Rank, group.Count);
        var folder = role.WritesFiles ? Directory.CreateTempSubdirectory("diffuse-bench-train-") : null;
        using var reducer = group is null ? null : new Distributed.DataParallelReducer(group, cancellationToken);
        try
        {
            torch.random.manual_seed(0);
            using var model = config.Build(options.Device);
            if (options.ChannelsLast)
            {
                if (model is not UNet2DModel unet) throw InvalidInputException.For<Options>(nameof(Options.ChannelsLast), $": only a UNet2DModel can run channels-last (this model is a {config.ClassName})");
                unet.UseChannelsLast();
            }
            if (options.CheckpointActivations)
            {
                if (model is not UNet2DModel unet) throw InvalidInputException.For<Options>(nameof(Options.CheckpointActivations), $": only a UNet2DModel recomputes activations (this model is a {config.ClassName})");
                unet.CheckpointActivations = true;
                Runtime.NativeAllocator.UseOwnMappingsFrom(Runtime.NativeAllocator.RecomputationThresholdBytes);
            }
            var stats = ModelStats.Of(model);
            var run = folder is null ? RunFolder.At(Path.Combine(Path.GetTempPath(), "diffuse-bench-train-rank")) : RunFolder.Create(folder.FullName, overwrite: false);
            using var trainer = Trainer.Start(run, model, data, new DataSpec(dataName), schedule, training, new TrainingSeams(role, reducer));
            int skipped = 0;
            void Unit() => skipped += trainer.StepForBenchmark(1);
            WindowTimer.Warmup(Unit, plan, cancellationToken);
            var start = MemoryUse.Snapshot();
            var rss = new List<long?>();
            var (reducedBefore, stepsBefore) = (reducer?.AllreduceTime ?? TimeSpan.Zero, reducer?.Steps ?? 0);
            Func<bool, bool>? goOn = group is null ? null : more =>
            {
                Span<byte> decision = [(byte)(more ? 1 : 0)];
                group.Broadcast(decision, 0);
                return decision[0] == 1;
            };
            var timing = WindowTimer.Measure(Unit, plan, () => rss.Add(ProcessMemory.CurrentRssBytes()), goOn, cancellationToken);
            double allreduceMs = reducer is null || reducer.Steps == stepsBefore ? 0
                : (reducer.AllreduceTime - reducedBefore).TotalMilliseconds / (reducer.Steps - stepsBefore);
            var memory = MemoryUse.Since(start, rss);
            // Alone only: data-parallel ranks would have to agree on every step's count, and the bare step has no all-reduce.
            var overhead = group is null ? MeasureOverhead(trainer, Unit, timing.MedianSecondsPerUnit, plan, cancellationToken) : null;
            var profile = options.ProfileSteps > 0 ? Profile(trainer, options.ProfileSteps, cancellationToken) : [];
            OpBreakdown? ops = null;
            if (options.ProfileSteps > 0)
            {
                // The forward and backward phases of a step at this batch (per process), replayed by op class.
                double measured = profile.Where(p => p.Phase is "forward" or "backward").Sum(p => p.Ms);
                long rows = options.Batch / role.Count;
                ops = new OpBreakdown(OpProfile.Measure(model, rows, training: true, cancellationToken: cancellationToken), measured, ceiling);
            }
            return new Result(options.Name, stats.ParameterCount, options.Batch, shape.ToArray(), dataName, stats.GFlopsPerSample,
                timing, ceiling, memory, profile, skipped, MachineInfo.Current(), role.Count, allreduceMs, ops, overhead, options.CheckpointActivations);
        }
        finally
        {
            folder?.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The real step against the bare one in <see cref="WindowPlan.Windows"/> alternating pairs of blocks within
    /// <see cref="StepOverhead.ShareOfPlan"/> of the plan's seconds (at least one step of each per block); the bare step
    /// is warmed up first as the real one was (at least one step).
    /// </summary>
    private static StepOverhead MeasureOverhead(Trainer trainer, Action real, double realSecondsPerStep, WindowPlan plan, CancellationToken cancellationToken)
    {
        using var bare = trainer.BareStepForBenchmark();
        for (int i = 0; i < Math.Max(1, plan.Warmup); i++) bare.Run();
        return StepOverhead.Measure(real, bare.Run, realSecondsPerStep, plan.Seconds * StepOverhead.ShareOfPlan, plan.Windows, cancellationToken);
    }

    /// <summary>Runs <paramref name="steps"/> steps with a clock read at the end of every phase; mean milliseconds per phase.</summary>
    private static IReadOnlyList<PhaseTime> Profile(Trainer trainer, int steps, CancellationToken cancellationToken)
    {
        var phases = Enum.GetValues<TrainingPhase>();
        var seconds = new double[phases.Length];
        var clock = new Stopwatch();
        double last = 0;
        void Mark(TrainingPhase phase)
        {
            double now = clock.Elapsed.TotalSeconds;
            seconds[(int)phase] += now - last;
            last = now;
        }
        for (int i = 0; i < steps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            clock.Restart();
            last = 0;
            trainer.StepForBenchmark(1, Mark);
        }
        double total = seconds.Sum();
        return phases.Select(p => new PhaseTime(p.ToString().ToLowerInvariant(), seconds[(int)p] / steps * 1e3, seconds[(int)p] / total)).ToList();
    }
}
