using System.Diagnostics;
using System.Globalization;
using System.Text;
using DiffusionSharp.Data;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Noising;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// Trains a <see cref="UNet2DModel"/> with the denoising objective: draw t uniformly from the T training timesteps and
/// Gaussian noise, noise the batch with q(x_t | x_0), and regress the network output on the target the prediction type
/// names (the noise, x_0 or v) with MSE. AdamW with warm-up, gradient clipping, an EMA copy, atomic checkpoints and
/// exact resume (weights, optimizer moments, generator state and data position are all restored).
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly RunFolder _run;
    private readonly UNet2DModel _model;
    private readonly ExponentialMovingAverage _ema;
    private readonly AdamW _optimizer;
    private readonly Generator _generator;
    private readonly BatchLoader _loader;
    private readonly ForwardProcess _forward;
    private readonly IImageDataset _data;
    private readonly List<string> _pendingLossRows = [];
    private TrainingState _state;
    private Action<TrainingPhase>? _phases;

    private Trainer(RunFolder run, UNet2DModel model, IImageDataset data, TrainingState state)
    {
        _run = run;
        _model = model;
        _data = data;
        _state = state;
        var o = state.Options;
        _forward = new ForwardProcess(NoiseSchedule.Create(state.Schedule));
        _ema = new ExponentialMovingAverage(model, o.EmaDecay);
        _optimizer = torch.optim.AdamW(model.parameters(), o.LearningRate, 0.9, 0.999, 1e-8, o.WeightDecay);
        _generator = new Generator((ulong)o.Seed);
        _loader = new BatchLoader(data, o.BatchSize, o.Seed, shuffle: true, dropLast: data.Count >= o.BatchSize, randomHorizontalFlip: state.Data.RandomFlip);
        CheckCompatible(model.Config, data);
    }

    /// <summary>The run folder.</summary>
    public RunFolder Run => _run;

    /// <summary>The model being trained.</summary>
    public UNet2DModel Model => _model;

    /// <summary>The EMA model (what <c>unet_ema/</c> holds).</summary>
    public UNet2DModel EmaModel => _ema.Model;

    /// <summary>Steps completed so far.</summary>
    public int Step => _state.Step;

    /// <summary>The options in force.</summary>
    public TrainingOptions Options => _state.Options;

    /// <summary>The forward-process schedule the run trains with.</summary>
    public NoiseScheduleConfig Schedule => _state.Schedule;

    /// <summary>Called with the EMA model and the step whenever a sample grid is due (every <c>SampleEvery</c> steps and at the end).</summary>
    public Action<UNet2DModel, int>? SampleHook { get; set; }

    /// <summary>Called with the EMA model after every completed step (the caller decides what is due, e.g. an evaluation).</summary>
    public Action<UNet2DModel, int>? StepHook { get; set; }

    /// <summary>Called after each checkpoint with its folder.</summary>
    public Action<string, int>? CheckpointHook { get; set; }

    /// <summary>Starts a new run in <paramref name="run"/>.</summary>
    public static Trainer Start(RunFolder run, UNet2DModel model, IImageDataset data, DataSpec dataSpec,
        NoiseScheduleConfig schedule, TrainingOptions options)
    {
        options.Validate();
        schedule.Validate();
        var state = new TrainingState
        {
            Step = 0,
            Options = options,
            Schedule = schedule,
            Data = dataSpec,
        };
        var trainer = new Trainer(run, model, data, state);
        File.WriteAllText(run.LossCsvPath, "step,loss,lr\n");
        return trainer;
    }

    /// <summary>Continues the run in <paramref name="run"/> from its newest checkpoint.</summary>
    /// <param name="run">The run folder.</param>
    /// <param name="steps">A new step target, or null to keep the recorded one.</param>
    public static Trainer Resume(RunFolder run, int? steps = null)
    {
        string checkpoint = run.LatestCheckpoint() ?? throw new InvalidInputException($"--resume: {run.Root} has no complete checkpoint");
        string statePath = Path.Combine(checkpoint, "state.json");
        var state = TrainingState.FromJson(JsonFile.ReadText(statePath, "training state"), statePath);
        if (steps is { } s) state = state with { Options = state.Options with { Steps = s } };
        state.Options.Validate();
        var model = UNet2DModel.FromPretrained(Path.Combine(checkpoint, "unet"));
        var data = state.Data.Open(model.Config.SampleSize ?? 32);
        var trainer = new Trainer(run, model, data, state);
        trainer.RestoreFrom(checkpoint);
        return trainer;
    }

    /// <summary>
    /// Trains until the step target or until <paramref name="cancellationToken"/> fires; either way the last completed
    /// step is checkpointed before returning.
    /// </summary>
    public TrainingOutcome Train(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var o = _state.Options;
        var clock = Stopwatch.StartNew();
        double secondsBefore = _state.TrainingSeconds;
        int startStep = _state.Step, badInARow = 0;
        double smoothed = double.NaN;
        var parameters = _model.parameters().ToArray();
        _model.train();
        var reason = StopReason.Finished;
        while (_state.Step < o.Steps)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                reason = StopReason.Cancelled;
                break;
            }
            var (loss, lr, finite) = Advance(parameters);
            if (!finite)
            {
                _state = _state with { SkippedSteps = _state.SkippedSteps + 1 };
                if (++badInARow >= o.MaxBadSteps)
                {
                    reason = StopReason.TooManyBadSteps;
                    break;
                }
            }
            else
            {
                badInARow = 0;
                smoothed = double.IsNaN(smoothed) ? loss : 0.98 * smoothed + 0.02 * loss;
            }
            _state = _state with { Step = _state.Step + 1, Loader = _loader.GetState() };
            _pendingLossRows.Add(string.Create(CultureInfo.InvariantCulture, $"{_state.Step},{(finite ? loss.ToString("R", CultureInfo.InvariantCulture) : "nan")},{lr:R}"));
            double ips = (_state.Step - startStep) * (double)o.BatchSize / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
            progress?.Report(new TrainingProgress(_state.Step, o.Steps, loss, smoothed, ips, lr, _state.SkippedSteps));

            // Not during a run of bad steps: the newest checkpoint should be the state after a good step.
            if (o.CheckpointEvery > 0 && _state.Step % o.CheckpointEvery == 0 && _state.Step < o.Steps && badInARow == 0
                && !TryCheckpoint(secondsBefore + clock.Elapsed.TotalSeconds))
            {
                reason = StopReason.NonFiniteWeights;
                break;
            }
            if (o.SampleEvery > 0 && _state.Step % o.SampleEvery == 0 && _state.Step < o.Steps)
                SampleHook?.Invoke(_ema.Model, _state.Step);
            StepHook?.Invoke(_ema.Model, _state.Step);
        }
        // After too many bad steps the newest checkpoint is the last good state: leave it as it is.
        if (reason is StopReason.Finished or StopReason.Cancelled && !TryCheckpoint(secondsBefore + clock.Elapsed.TotalSeconds))
            reason = StopReason.NonFiniteWeights;
        if (reason == StopReason.Finished) SampleHook?.Invoke(_ema.Model, _state.Step);
        return new TrainingOutcome(reason, _state.Step, startStep, clock.Elapsed, _state.SkippedSteps);
    }

    /// <summary>
    /// Runs <paramref name="steps"/> steps exactly as <see cref="Train"/> does (batch, t and noise, forward, loss, backward,
    /// clipping, AdamW, EMA), without loss rows, progress, checkpoints or samples: the benchmark's unit of work.
    /// <paramref name="phases"/>, when given, is called as each phase of a step ends (libtorch on the CPU runs each op to
    /// completion before returning, so a clock read there times the phase). Returns how many steps were skipped as non-finite.
    /// </summary>
    internal int StepForBenchmark(int steps, Action<TrainingPhase>? phases = null)
    {
        var parameters = _model.parameters().ToArray();
        _model.train();
        _phases = phases;
        int skipped = 0;
        try
        {
            for (int i = 0; i < steps; i++)
            {
                var (_, _, finite) = Advance(parameters);
                if (!finite) skipped++;
                _state = _state with { Step = _state.Step + 1, SkippedSteps = _state.SkippedSteps + (finite ? 0 : 1) };
            }
            return skipped;
        }
        finally
        {
            _phases = null;
        }
    }

    /// <summary>One step of the loop: an optimizer step at the scheduled learning rate, then, if it was finite, the EMA update.</summary>
    private (double Loss, double LearningRate, bool Finite) Advance(Parameter[] parameters)
    {
        var o = _state.Options;
        double lr = LearningRateSchedule.At(_state.Step, o.Steps, o.LearningRate, o.WarmupSteps, o.Decay);
        double loss = TrainStep(parameters, lr, out bool finite);
        if (finite)
        {
            _ema.Update(_state.Step + 1);
            _phases?.Invoke(TrainingPhase.Ema);
        }
        return (loss, lr, finite);
    }

    /// <summary>One optimizer step; returns the loss, and whether the loss and gradients were finite (otherwise nothing changed).</summary>
    private double TrainStep(Parameter[] parameters, double lr, out bool finite)
    {
        var o = _state.Options;
        using var scope = torch.NewDisposeScope();
        using var batch = _loader.Next();
        _phases?.Invoke(TrainingPhase.Data);
        var x0 = batch.Images;
        long b = x0.shape[0];
        var t = torch.randint(0, _forward.Schedule.NumTrainTimesteps, [b], dtype: ScalarType.Int64, generator: _generator);
        var noise = torch.randn(x0.shape, generator: _generator);
        var labels = ConditioningLabels(batch.Labels, b);
        var xt = _forward.AddNoise(x0, noise, t);
        var target = _forward.TrainingTarget(o.PredictionType, x0, noise, t);
        _phases?.Invoke(TrainingPhase.Noise);

        // The batch's gradient, accumulated over micro-batches: each chunk's mean loss is weighted by its share of the
        // batch, so the sum equals the whole batch's mean loss while only one chunk's activations are alive at a time.
        _optimizer.zero_grad();
        long chunk = o.MicroBatchSize is { } m && m < b ? m : b;
        double lossValue = 0;
        for (long start = 0; start < b; start += chunk)
        {
            using var chunkScope = torch.NewDisposeScope();
            long n = Math.Min(chunk, b - start);
            var part = torch.TensorIndex.Slice(start, start + n);
            var prediction = _model.forward(xt[part], t[part], labels?[part]);
            var loss = Loss(prediction, target[part], t[part]) * ((double)n / b);
            _phases?.Invoke(TrainingPhase.Forward);
            loss.backward();
            lossValue += loss.item<float>();
        }
        _phases?.Invoke(TrainingPhase.Backward);
        double gradNorm = o.GradClip > 0
            ? torch.nn.utils.clip_grad_norm_(parameters, o.GradClip)
            : TotalGradNorm(parameters);
        _phases?.Invoke(TrainingPhase.Clip);
        finite = double.IsFinite(lossValue) && double.IsFinite(gradNorm);
        if (!finite)
        {
            _optimizer.zero_grad();
            return lossValue;
        }
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        _optimizer.step();
        _phases?.Invoke(TrainingPhase.Optimizer);
        return lossValue;
    }

    /// <summary>MSE, optionally weighted per sample by min(SNR, gamma) over the target's natural weight (Hang et al. 2023, eq. 9).</summary>
    private Tensor Loss(Tensor prediction, Tensor target, Tensor t)
    {
        var o = _state.Options;
        if (o.SnrGamma is not { } gamma) return torch.nn.functional.mse_loss(prediction, target);
        var perSample = (prediction - target).square().mean([1, 2, 3]);
        var weight = MinSnrWeighting.Weight(_forward.Snr(t), gamma, o.PredictionType);
        return (perSample * weight).mean();
    }

    /// <summary>
    /// Class labels for a conditional model: each is replaced by the null class (the last embedding) with probability
    /// <c>CondDrop</c>, so one network learns both p(x | c) and p(x) for classifier-free guidance (Ho and Salimans 2022).
    /// </summary>
    private Tensor? ConditioningLabels(Tensor? labels, long batch)
    {
        if (_model.Config.NumClassEmbeds is not { } classes) return null;
        if (labels is null) throw new InvalidInputException("--data has no class labels but the model is class-conditional (num_class_embeds is set)");
        var o = _state.Options;
        if (o.CondDrop <= 0) return labels;
        var drop = torch.rand([batch], generator: _generator) < o.CondDrop;
        return torch.where(drop, torch.full_like(labels, classes - 1), labels);
    }

    private static double TotalGradNorm(Parameter[] parameters)
    {
        using var _ = torch.NewDisposeScope();
        double sum = 0;
        foreach (var p in parameters)
            if (p.grad is { } g) sum += g.square().sum().item<float>();
        return Math.Sqrt(sum);
    }

    /// <summary>
    /// Writes a checkpoint of the current state; refuses (returns false, writes nothing) when a weight is not finite, so
    /// no checkpoint ever holds NaN or infinity. Loss rows up to this step reach <c>loss.csv</c> first, so after a crash
    /// the file holds at least every row up to the newest checkpoint (resume drops any rows after it).
    /// </summary>
    private bool TryCheckpoint(double trainingSeconds)
    {
        if (!WeightsFinite()) return false;
        FlushLossRows();
        _state = _state with { TrainingSeconds = trainingSeconds, WrittenUtc = DateTime.UtcNow, Loader = _loader.GetState() };
        string path = _run.WriteCheckpoint(_state.Step, dir =>
        {
            _model.SavePretrained(Path.Combine(dir, "unet"));
            _ema.Model.SavePretrained(Path.Combine(dir, "unet_ema"));
            AtomicFile.Write(Path.Combine(dir, "optimizer.bin"), s =>
            {
                using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
                _optimizer.save_state_dict(w);
            });
            using (var rng = _generator.get_state())
                AtomicFile.Write(Path.Combine(dir, "rng.bin"), s => s.Write(rng.data<byte>().ToArray()));
            AtomicFile.WriteAllText(Path.Combine(dir, "state.json"), _state.ToJson());
        }, _state.Options.KeepCheckpoints);
        _run.Publish(path);
        CheckpointHook?.Invoke(path, _state.Step);
        return true;
    }

    private bool WeightsFinite()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return _model.parameters().Concat(_ema.Model.parameters()).All(p => p.isfinite().all().item<bool>());
    }

    private void FlushLossRows()
    {
        if (_pendingLossRows.Count == 0) return;
        File.AppendAllLines(_run.LossCsvPath, _pendingLossRows);
        _pendingLossRows.Clear();
    }

    private void RestoreFrom(string checkpoint)
    {
        var emaWeights = UNet2DModel.FromPretrained(Path.Combine(checkpoint, "unet_ema"));
        _ema.Model.load_state_dict(emaWeights.state_dict());
        emaWeights.Dispose();
        using (var r = new BinaryReader(File.OpenRead(Path.Combine(checkpoint, "optimizer.bin"))))
            _optimizer.load_state_dict(r);
        var rngBytes = File.ReadAllBytes(Path.Combine(checkpoint, "rng.bin"));
        using (var rng = torch.tensor(rngBytes, dtype: ScalarType.Byte))
            _generator.set_state(rng);
        if (_state.Loader is { } position) _loader.Restore(position);
        TruncateLossCsv(_state.Step);
        // A crash while publishing can leave unet/ and unet_ema/ from different checkpoints: publish the resumed one again.
        _run.Publish(checkpoint);
    }

    /// <summary>
    /// Drops loss rows written after the checkpoint being resumed, so the curve continues without duplicates; also drops a
    /// row torn by a crash mid-write (anything but step,loss,lr with increasing steps).
    /// </summary>
    private void TruncateLossCsv(int step)
    {
        var kept = new List<string> { "step,loss,lr" };
        int last = 0;
        if (File.Exists(_run.LossCsvPath))
        {
            foreach (var line in File.ReadLines(_run.LossCsvPath).Skip(1))
            {
                if (ParseLossRow(line) is not { } row || row.Step <= last || row.Step > step) continue;
                kept.Add(line);
                last = row.Step;
            }
        }
        AtomicFile.WriteAllText(_run.LossCsvPath, string.Join('\n', kept) + "\n");
    }

    private static (int Step, double Loss)? ParseLossRow(string line)
    {
        var p = line.Split(',');
        if (p.Length != 3 || !int.TryParse(p[0], NumberStyles.None, CultureInfo.InvariantCulture, out int step)) return null;
        if (p[1] == "nan") return (step, double.NaN);
        if (!double.TryParse(p[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double loss)
            || !double.TryParse(p[2], NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return null;
        return (step, loss);
    }

    /// <summary>The losses recorded in <c>loss.csv</c>, by step.</summary>
    /// <remarks>Malformed rows (e.g. a line torn by a crash) are left out.</remarks>
    public static IReadOnlyList<(int Step, double Loss)> ReadLossCsv(string path) =>
        File.ReadLines(path).Skip(1).Select(ParseLossRow).OfType<(int Step, double Loss)>().ToList();

    private static void CheckCompatible(UNet2DConfig config, IImageDataset data)
    {
        if (config.InChannels != data.Channels)
            throw new InvalidInputException($"--model has in_channels {config.InChannels} but --data images have {data.Channels} channel(s)");
        if (config.OutChannels != config.InChannels)
            throw new InvalidInputException($"--model: out_channels ({config.OutChannels}) must equal in_channels ({config.InChannels}) to predict noise");
        if (data.Count == 0) throw new InvalidInputException("--data: the dataset is empty");
    }

    public void Dispose()
    {
        FlushLossRows();
        _optimizer.Dispose();
        _generator.Dispose();
        _ema.Dispose();
    }
}

/// <summary>Why training stopped.</summary>
public enum StopReason
{
    /// <summary>The step target was reached.</summary>
    Finished,

    /// <summary>Ctrl+C or another cancellation; a checkpoint of the last completed step was written.</summary>
    Cancelled,

    /// <summary>Too many consecutive steps had non-finite values; the last good checkpoint is intact.</summary>
    TooManyBadSteps,

    /// <summary>A weight became NaN or infinite after a finite step (divergence); no checkpoint was written from it.</summary>
    NonFiniteWeights,
}

/// <summary>The result of <see cref="Trainer.Train"/>.</summary>
public sealed record TrainingOutcome(StopReason Reason, int Step, int StartStep, TimeSpan Elapsed, int SkippedSteps);
