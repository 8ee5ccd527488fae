using System.ComponentModel;
using DiffusionSharp.Benchmarks;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;
using static DiffusionSharp.Cli.Commands.Bench.BenchReport;

namespace DiffusionSharp.Cli.Commands.Bench;

/// <summary><c>diffuse bench train</c>: images/s of real training steps (the trainer's own step) on the bundled MNIST digits.</summary>
public sealed class BenchTrainCommand : Command<BenchTrainCommand.Settings>
{
    public sealed class Settings : ModelBenchSettings
    {
        [CommandOption("--micro-batch <M>")]
        [Description("Accumulate gradients over chunks of M images, as diffuse train --micro-batch.")]
        public int? MicroBatch { get; init; }

        [CommandOption("--profile <STEPS>")]
        [Description("After the timed windows, time this many more steps phase by phase (data, noise, forward, backward, clip, optimizer, ema).")]
        [DefaultValue(0)]
        public int Profile { get; init; }

        [CommandOption("--checkpoint-activations")]
        [Description("Recompute each U-Net block's activations in backward instead of keeping them (less memory, about one more forward per step), as diffuse train --checkpoint-activations.")]
        public bool CheckpointActivations { get; init; }

        [CommandOption("--sample-size <N>")]
        [Description("Train the model at N x N instead of its config's sample_size (a multiple of its downsampling; seeded random images unless 28x28 grey).")]
        public int? SampleSize { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } bad) return bad;
            if (Profile < 0) return ValidationResult.Error($"--profile must be 0 or more steps (got {Profile})");
            if (SampleSize is < 1) return ValidationResult.Error($"--sample-size must be at least 1 (got {SampleSize})");
            return ValidationResult.Success();
        }

        /// <summary>The architecture of <c>--model</c>, at <c>--sample-size</c> when given.</summary>
        public DiffusionSharp.Models.UNet2DConfig Config()
        {
            var config = ModelSpecs.Config(Model);
            if (SampleSize is not { } size) return config;
            int factor = 1 << (config.BlockOutChannels.Count - 1);
            if (size % factor != 0)
                throw new DiffusionSharp.InvalidInputException($"--sample-size {size}: expected a multiple of {factor}, because --model {Model} halves the image {config.BlockOutChannels.Count - 1} times");
            return config with { SampleSize = size };
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        StopSignals.StopCleanly();
        s.ApplyAttention();
        var plan = s.Plan(60);
        plan.Validate();
        var options = new TrainBenchmark.Options(s.Model, s.Config(), s.Batch ?? 128, s.Profile, s.MicroBatch, ChannelsLast: s.ChannelsLast,
            CheckpointActivations: s.CheckpointActivations);
        options.Validate();
        if (DistributedJob.Launch is { } launch) new Training.ProcessRole(launch.Rank, launch.Size).CheckBatch(options.Batch);
        var group = DistributedJob.Join();
        options = options with { Device = TorchRuntime.Initialize(DistributedJob.Threads(s.Threads), s.Device) };
        var ceiling = s.MeasureCeiling(cancellationToken);
        if (!s.Json) AnsiConsole.MarkupLine(Esc($"training {s.Model}, batch {options.Batch}{(group is null ? "" : $" over {group.Count} ranks (MPI)")}: {plan.Warmup} warm-up steps, then {plan.Windows} windows over {plan.Seconds:G} s{(s.Profile > 0 ? $", then {s.Profile} profiled steps" : "")} ..."));
        var r = TrainBenchmark.Run(options, plan, ceiling, group, cancellationToken);
        var around = r.Ceiling.AndAfter(cancellationToken);
        r = r with { Ceiling = around, Ops = r.Ops is null ? null : r.Ops with { Ceiling = around } };
        if (s.Json)
        {
            WriteJson(new
            {
                Benchmark = "train",
                r.Model,
                r.Parameters,
                r.Batch,
                r.ImageShape,
                r.Data,
                GflopsPerImage = r.GFlopsPerImage,
                r.ImagesPerSecond,
                r.MsPerStep,
                AchievedGflopsPerSecond = r.AchievedGFlopsPerSecond,
                Ceiling = Ceiling(r.Ceiling),
                r.Efficiency,
                Attention = s.Attention,
                r.CheckpointActivations,
                Memory = Memory(r.Memory),
                LeakCheck = LeakCheck(r.Memory, s.MaxRssGrowth),
                r.SkippedSteps,
                r.Processes,
                ThreadsPerProcess = TorchSharp.torch.get_num_threads(),
                r.AllreduceMsPerStep,
                StepOverhead = Overhead(r.Overhead),
                Timing = Timing(r.Timing, "step"),
                Profile = r.Profile.Select(p => new { p.Phase, p.Ms, p.Share }).ToArray(),
                OpProfile = Ops(r.Ops),
                Machine = Machine(r.Machine),
            });
            return Finish(r.Memory, s.MaxRssGrowth);
        }
        var table = NewTable($"bench train: {r.Model}, batch {r.Batch}, {r.Data} {string.Join('x', r.ImageShape)}");
        table.AddRow("parameters", Esc($"{r.Parameters:N0}"));
        table.AddRow("forward GFLOPs/image", Esc(F(r.GFlopsPerImage)));
        table.AddRow("[bold]images/s (median)[/]", Esc(F(r.ImagesPerSecond)));
        table.AddRow("ms per step (median)", Esc(F(r.MsPerStep)));
        if (r.Processes > 1)
            table.AddRow("data-parallel", Esc($"{r.Processes} ranks x {TorchSharp.torch.get_num_threads()} thread(s), all-reduce {F(r.AllreduceMsPerStep)} ms per step"));
        AddTiming(table, r.Timing, "step", 1e3, "ms per step");
        AddOverhead(table, r.Overhead, "trainer's step", "forward, loss, backward, AdamW");
        AddEfficiency(table, r.AchievedGFlopsPerSecond, r.Ceiling, r.Efficiency, "forward + backward = 3x forward FLOPs");
        table.AddRow("activations", r.CheckpointActivations ? "recomputed per block in backward (--checkpoint-activations)" : "kept for backward");
        AddMemory(table, r.Memory, "over the windows");
        if (r.SkippedSteps > 0) table.AddRow("[yellow]skipped steps[/]", Esc($"{r.SkippedSteps} (non-finite loss or gradients)"));
        AddMachine(table, r.Machine);
        AnsiConsole.Write(table);
        if (r.Profile.Count > 0)
        {
            var profile = new Table().Title($"profile: mean over {s.Profile} steps").AddColumns("phase", "ms", "share");
            foreach (var p in r.Profile) profile.AddRow(p.Phase, F(p.Ms), Esc($"{p.Share:P1}"));
            profile.Columns[1].RightAligned();
            profile.Columns[2].RightAligned();
            AnsiConsole.Write(profile);
        }
        if (r.Ops is { } ops) WriteOps(ops, "forward + backward by op class (replayed layer by layer)");
        return Finish(r.Memory, s.MaxRssGrowth);
    }
}
