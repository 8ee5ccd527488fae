using System.Diagnostics;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// The training loop over any <see cref="IDenoiser"/> and any <see cref="IFormulation"/>: each step draws the noise levels
/// and Gaussian noise, noises the batch, regresses the prediction on the target, and takes an AdamW step with warm-up,
/// gradient clipping and an EMA copy; atomic checkpoints and exact resume (weights, optimizer moments, generator state and
/// data position are all restored).
/// </summary>
/// <remarks>
/// Seams: the objective is the <see cref="IFormulation"/>; what a checkpoint holds is <see cref="TrainingCheckpoint"/>; the
/// loss log is <see cref="LossLog"/>; the folder layout is <see cref="RunFolder"/>; the <see cref="ProcessRole"/> decides
/// which process writes files and which shard of each batch it reads; an <see cref="IGradientReducer"/> acts between
/// backward and the optimizer step. Tensors are made on the network's device; the generator stays on the CPU, so a seed
/// draws the same t, noise and label drops on any device.
/// </remarks>
public sealed class Trainer : IDisposable
{
    private readonly RunFolder _run;
    private readonly IDenoiser _model;
    private readonly ExponentialMovingAverage _ema;
    private readonly AdamW _optimizer;
    private readonly Generator _generator;
    private readonly BatchLoader _loader;
    private readonly IFormulation _formulation;
    private readonly LossLog _lossLog;
    private readonly TrainingSeams _seams;
    private readonly LatentDataset? _latents;
    private readonly Parameter[] _parameters;
    private TrainingState _state;
    private Action<TrainingPhase>? _phases;

    private Trainer(RunFolder run, IDenoiser model, IDataset data, TrainingState state, TrainingSeams seams)
    {
        _run = run;
        _model = model;
        _state = state;
        _seams = seams;
        _latents = CaptionedLatentDataset.LatentsOf(data);
        Data = data;
        var o = state.Options;
        if (_latents is not null && state.Data.RandomFlip)
            throw new InvalidInputException("Data: random flips are not supported for latent training (a flipped latent is not the latent of the flipped image)", DataProperty);
        CheckCompatible(model.Config, data);
        seams.Role.CheckBatch(o.BatchSize);
        _formulation = (seams.Formulation ?? Formulations.Create)(o, state.Schedule);
        _lossLog = new LossLog(run.LossCsvPath);
        _ema = new ExponentialMovingAverage(model, o.EmaDecay);
        _parameters = model.Module.parameters().ToArray();
        _optimizer = torch.optim.AdamW(_parameters, o.LearningRate, 0.9, 0.999, 1e-8, o.WeightDecay);
        _generator = new Generator((ulong)o.Seed);
        _loader = new BatchLoader(data, o.BatchSize, o.Seed, shuffle: true, dropLast: data.Count >= o.BatchSize,
            randomHorizontalFlip: state.Data.RandomFlip, shard: seams.Role.Shard);
    }

    /// <summary>The run folder.</summary>
    public RunFolder Run => _run;

    /// <summary>The data the run trains on (latents, captioned latents, images, clips or series).</summary>
    public IDataset Data { get; }

    /// <summary>The network being trained.</summary>
    public IDenoiser Model => _model;

    /// <summary>The EMA network (what <c>unet_ema/</c> holds).</summary>
    public IDenoiser EmaModel => _ema.Model;

    /// <summary>The training objective.</summary>
    public IFormulation Formulation => _formulation;

    /// <summary>Steps completed so far.</summary>
    public int Step => _state.Step;

    /// <summary>The options in force.</summary>
    public TrainingOptions Options => _state.Options;

    /// <summary>The forward-process schedule the run trains with.</summary>
    public NoiseScheduleConfig Schedule => _state.Schedule;

    /// <summary>Whether the network is trained on VAE latents (the run folder then holds <c>vae/</c> and <c>latents/</c>).</summary>
    public bool IsLatent => _latents is not null;

    /// <summary>This process's role.</summary>
    public ProcessRole Role => _seams.Role;

    /// <summary>Called (in the writing process) with the EMA network and the step whenever a sample grid is due (every <c>SampleEvery</c> steps and at the end).</summary>
    public Action<IDenoiser, int>? SampleHook { get; set; }

    /// <summary>Called with the EMA network after every completed step (the caller decides what is due, e.g. an evaluation).</summary>
    public Action<IDenoiser, int>? StepHook { get; set; }

    /// <summary>Called after each checkpoint with its folder.</summary>
    public Action<string, int>? CheckpointHook { get; set; }

    /// <summary>
    /// Starts a new run in <paramref name="run"/>: the writing process writes the pipeline files (<c>scheduler/</c>,
    /// <c>model_index.json</c>) and an empty loss log, so the folder is a complete diffusers pipeline from the first checkpoint on.
    /// For latent training <paramref name="data"/> is a <see cref="LatentDataset"/> built by <see cref="LatentCache"/> from the
    /// run's own <c>vae/</c> (<see cref="RunFolder.WriteVae"/>); <c>model_index.json</c> then names the VAE too.
    /// </summary>
    /// <exception cref="InvalidInputException">Invalid options, or a network that does not fit the data.</exception>
    public static Trainer Start(RunFolder run, IDenoiser model, IDataset data, DataSpec dataSpec,
        NoiseScheduleConfig schedule, TrainingOptions options, TrainingSeams? seams = null)
    {
        options.Validate();
        options = options with { Formulation = options.Formulation.WithDefaults() };
        schedule.Validate();
        var latents = CaptionedLatentDataset.LatentsOf(data);
        if (model is TextConditionedUNet && (data is not CaptionedLatentDataset || latents is null))
            throw new InvalidInputException("Data: a text-conditioned U-Net with its own text encoder trains on captioned latents (a CaptionedLatentDataset)", DataProperty);
        if (data is CaptionedLatentDataset && dataSpec.PromptColumn is null)
            throw new InvalidInputException("Data: captioned latents need the DataSpec's PromptColumn, so a resumed run reads the same prompts", DataProperty);
        var state = new TrainingState
        {
            Step = 0,
            Options = options,
            Schedule = schedule,
            Data = latents is null ? dataSpec : dataSpec with { ImageSize = latents.Resolution },
            Latents = latents is null ? null : new LatentSpec(latents.Resolution),
        };
        var trainer = new Trainer(run, model, data, state, seams ?? TrainingSeams.Default);
        if (trainer.Role.WritesFiles)
        {
            var (schedulerClass, schedulerConfig) = trainer._formulation.PipelineScheduler();
            if (latents is not null) schedulerConfig = WithoutSampleClipping(schedulerConfig);
            if (data is CaptionedLatentDataset captioned) run.WriteTokenizer(captioned.TokenizerFolder);
            if (model is TextConditionedUNet) run.WriteTextToImagePipeline(schedulerClass, schedulerConfig, latents!.VaeClassName);
            else run.WritePipeline(model.Config.ClassName, schedulerClass, schedulerConfig, latents?.VaeClassName);
            if (model.Config.NumClasses > 0 && data.HasLabels)
                Pipelines.ClassNamesFile.Write(run.ClassNamesPath, data.ClassNames, dataSpec.LabelColumn);
            if (data is TimeSeriesDataset series) series.Normalization.Save(Path.Combine(run.Root, SeriesNormalization.FileName));
            trainer._lossLog.Create();
        }
        trainer.WeightsReady();
        return trainer;
    }

    /// <summary>
    /// A latent run's scheduler config with <c>clip_sample</c> off (when the class has the key): its x_0 is a scaled latent of
    /// unit standard deviation, with values beyond ±1, not an image in [-1, 1], so the pixel models' clamp would flatten it
    /// (diffusers' latent pipelines ship <c>clip_sample: false</c> for the same reason).
    /// </summary>
    /// <param name="configJson">A <c>scheduler_config.json</c> text.</param>
    /// <returns>The same config, indented, with <c>clip_sample</c> false.</returns>
    public static string WithoutSampleClipping(string configJson)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(configJson)!.AsObject();
        if (json.ContainsKey("clip_sample")) json["clip_sample"] = false;
        return json.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
    }

    /// <summary>Continues the run in <paramref name="run"/> from its newest checkpoint.</summary>
    /// <param name="run">The run folder.</param>
    /// <param name="steps">A new step target, or null to keep the recorded one.</param>
    /// <param name="seams">The process's role, reducer and device; null = one process on the CPU.</param>
    public static Trainer Resume(RunFolder run, int? steps = null, TrainingSeams? seams = null)
    {
        seams ??= TrainingSeams.Default;
        string checkpoint = run.LatestCheckpoint()
            ?? throw new InvalidInputException($"Resume: {run.Root} has no complete checkpoint", RunFolder.ResumeProperty);
        var state = TrainingCheckpoint.ReadState(checkpoint);
        if (steps is { } s) state = state with { Options = state.Options with { Steps = s } };
        state.Options.Validate();
        var model = TrainingCheckpoint.ReadModel(checkpoint, seams.Device);
        IDataset data = state.Data.IsSeries ? state.Data.OpenSeries()
            : model.Config is AudioUNet1DConfig audio
            ? state.Data.OpenAudio(audio.SampleRate, audio.InChannels, audio.SampleSize)
            : state.Latents is { } latent ? OpenLatentData(run, state.Data, latent, seams.Device)
            : state.Data.Open(model.Config.SampleShape is [_, var side, ..] ? side : 32);
        var trainer = new Trainer(run, model, data, state, seams);
        trainer.RestoreFrom(checkpoint);
        trainer.WeightsReady();
        return trainer;
    }

    /// <summary>
    /// The latents of a latent run's data, encoded by the run's own <c>vae/</c>: the cache in <c>latents/</c> when its key still
    /// matches (the usual case on resume), a fresh encoding when the data or the VAE changed since.
    /// </summary>
    public static LatentDataset OpenLatents(RunFolder run, DataSpec data, LatentSpec latent, Device? device = null,
        IProgress<(int Done, int Total)>? progress = null)
    {
        using var vae = Models.Autoencoders.AutoencoderLoader.FromPretrained(run.VaeDir, device);
        var images = data.Open(latent.Resolution);
        return LatentCache.LoadOrBuild(run.LatentsDir, run.VaeDir, vae, images, progress: progress);
    }

    /// <summary>
    /// A latent run's data as it trains: <see cref="OpenLatents"/>, with each image's prompt tokenized by the run's own
    /// <c>tokenizer/</c> when the run is text-conditioned (<see cref="DataSpec.PromptColumn"/>).
    /// </summary>
    public static IDataset OpenLatentData(RunFolder run, DataSpec data, LatentSpec latent, Device? device = null,
        IProgress<(int Done, int Total)>? progress = null)
    {
        var latents = OpenLatents(run, data, latent, device, progress);
        if (data.PromptColumn is null) return latents;
        var prompts = data.ReadPrompts(data.Open(latent.Resolution));
        return new CaptionedLatentDataset(latents, prompts, run.TokenizerDir);
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
        _model.Module.train();
        var reason = StopReason.Finished;
        while (_state.Step < o.Steps)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                reason = StopReason.Cancelled;
                break;
            }
            var (loss, lr, finite) = Advance();
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
            _lossLog.Add(_state.Step, loss, finite, lr);
            double ips = (_state.Step - startStep) * (double)o.BatchSize / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
            progress?.Report(new TrainingProgress(_state.Step, o.Steps, loss, smoothed, ips, lr, _state.SkippedSteps));

            // Not during a run of bad steps: the newest checkpoint should be the state after a good step.
            if (o.CheckpointEvery > 0 && _state.Step % o.CheckpointEvery == 0 && _state.Step < o.Steps && badInARow == 0
                && !TryCheckpoint(secondsBefore + clock.Elapsed.TotalSeconds))
            {
                reason = StopReason.NonFiniteWeights;
                break;
            }
            if (o.SampleEvery > 0 && _state.Step % o.SampleEvery == 0 && _state.Step < o.Steps && Role.WritesFiles)
                SampleHook?.Invoke(_ema.Model, _state.Step);
            StepHook?.Invoke(_ema.Model, _state.Step);
        }
        // After too many bad steps the newest checkpoint is the last good state: leave it as it is.
        if (reason is StopReason.Finished or StopReason.Cancelled && !TryCheckpoint(secondsBefore + clock.Elapsed.TotalSeconds))
            reason = StopReason.NonFiniteWeights;
        if (reason == StopReason.Finished && Role.WritesFiles) SampleHook?.Invoke(_ema.Model, _state.Step);
        return new TrainingOutcome(reason, _state.Step, startStep, clock.Elapsed, _state.SkippedSteps);
    }

    /// <summary>
    /// Runs <paramref name="steps"/> steps exactly as <see cref="Train"/> does (batch, noise levels and noise, forward, loss,
    /// backward, clipping, AdamW, EMA), without loss rows, progress, checkpoints or samples: the benchmark's unit of work.
    /// <paramref name="phases"/>, when given, is called as each phase of a step ends (libtorch on the CPU runs each op to
    /// completion before returning, so a clock read there times the phase). Returns how many steps were skipped as non-finite.
    /// </summary>
    internal int StepForBenchmark(int steps, Action<TrainingPhase>? phases = null)
    {
        _model.Module.train();
        _phases = phases;
        int skipped = 0;
        try
        {
            for (int i = 0; i < steps; i++)
            {
                var (_, _, finite) = Advance();
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

    /// <summary>
    /// The yardstick of the trainer's overhead (<see cref="Benchmarks.StepOverhead"/>): a <see cref="BareTrainingStep"/>
    /// on the next batch's example, drawn as a step draws it (so the loader and the generator move on).
    /// </summary>
    internal BareTrainingStep BareStepForBenchmark()
    {
        // The scope, not the batch, releases what the example does not keep: its target or labels may be the batch's own tensors.
        using var scope = torch.NewDisposeScope();
        var batch = _loader.Next();
        var x0 = Scaled(TrainingExample.OnDevice(batch.Samples, _model.Device));
        if (_latents is not null) x0 = TrainingExample.DrawLatents(_latents, x0, _loader.LastShard, _generator, _model.Device);
        var example = TrainingExample.Draw(x0, batch.Condition, _loader.LastShard, _formulation, _generator, _model.Config,
            _state.Options.CondDrop, _model.Device);
        _model.Module.train();
        return new BareTrainingStep(_model, _formulation, _state.Options, example);
    }

    /// <summary>The batch as the diffusion process sees it: times the network's <see cref="IDenoiserConfig.DataScale"/> (a waveform model's <c>data_scale</c>).</summary>
    private Tensor Scaled(Tensor x0) => _model.Config.DataScale == 1 ? x0 : x0 * _model.Config.DataScale;

    /// <summary>One step of the loop: an optimizer step at the scheduled learning rate, then, if it was finite, the EMA update.</summary>
    private (double Loss, double LearningRate, bool Finite) Advance()
    {
        var o = _state.Options;
        double lr = LearningRateSchedule.At(_state.Step, o.Steps, o.LearningRate, o.WarmupSteps, o.Decay);
        double loss = TrainStep(lr, out bool finite);
        if (finite)
        {
            _ema.Update(_state.Step + 1);
            _phases?.Invoke(TrainingPhase.Ema);
        }
        return (loss, lr, finite);
    }

    /// <summary>One optimizer step; returns the loss, and whether the loss and gradients were finite (otherwise nothing changed).</summary>
    private double TrainStep(double lr, out bool finite)
    {
        var o = _state.Options;
        var device = _model.Device;
        using var scope = torch.NewDisposeScope();
        using var batch = _loader.Next();
        var x0 = Scaled(TrainingExample.OnDevice(batch.Samples, device));
        if (_latents is not null) x0 = TrainingExample.DrawLatents(_latents, x0, _loader.LastShard, _generator, device);
        _phases?.Invoke(TrainingPhase.Data);
        var (xt, target, levels, condition) = TrainingExample.Draw(x0, batch.Condition, _loader.LastShard, _formulation, _generator,
            _model.Config, o.CondDrop, device);
        long b = x0.shape[0];
        _phases?.Invoke(TrainingPhase.Noise);

        // The batch's gradient, accumulated over micro-batches: each chunk's mean loss is weighted by its share of the
        // batch, so the sum equals the whole batch's mean loss while only one chunk's activations are alive at a time.
        // The loss stays on the device (in float64, summed in chunk order) and is read once per step.
        _optimizer.zero_grad();
        long chunk = o.MicroBatchSize is { } m && m < b ? m : b;
        Tensor? lossSum = null;
        for (long start = 0; start < b; start += chunk)
        {
            using var chunkScope = torch.NewDisposeScope();
            long n = Math.Min(chunk, b - start);
            var part = torch.TensorIndex.Slice(start, start + n);
            var prediction = _formulation.Predict(_model, xt[part], levels[part], condition.Slice(start, n));
            var loss = _formulation.Loss(prediction, target[part], levels[part]) * ((double)n / b);
            _phases?.Invoke(TrainingPhase.Forward);
            loss.backward();
            var value = loss.detach().to_type(ScalarType.Float64);
            lossSum = (lossSum is null ? value : lossSum + value).MoveToOuterDisposeScope();
        }
        double lossValue = lossSum!.item<double>();
        if (_seams.Reducer is { } reducer)
        {
            reducer.GradientsReady(_parameters);
            lossValue = reducer.ReduceLoss(lossValue);
        }
        _phases?.Invoke(TrainingPhase.Backward);
        double gradNorm = o.GradClip > 0
            ? torch.nn.utils.clip_grad_norm_(_parameters, o.GradClip)
            : TotalGradNorm(_parameters);
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

    private static double TotalGradNorm(Parameter[] parameters)
    {
        // One fused reduction and one sync for the whole network, not a read-back per parameter.
        using var _ = torch.NewDisposeScope();
        var squares = parameters.Where(p => p.grad is not null).Select(p => p.grad!.square().sum().to_type(ScalarType.Float64)).ToArray();
        return squares.Length == 0 ? 0 : Math.Sqrt(torch.stack(squares).sum().item<double>());
    }

    /// <summary>
    /// Writes a checkpoint of the current state (in the writing process); refuses (returns false, writes nothing) when a
    /// weight is not finite, so no checkpoint ever holds NaN or infinity. Loss rows up to this step reach <c>loss.csv</c>
    /// first, so after a crash the file holds at least every row up to the newest checkpoint (resume drops any rows after it).
    /// </summary>
    private bool TryCheckpoint(double trainingSeconds)
    {
        _seams.Reducer?.CheckpointReached(_state.Step, Weights());
        if (!WeightsFinite()) return false;
        _state = _state with { TrainingSeconds = trainingSeconds, WrittenUtc = DateTime.UtcNow, Loader = _loader.GetState() };
        if (!Role.WritesFiles) return true;
        _lossLog.Flush();
        string path = _run.WriteCheckpoint(_state.Step,
            dir => TrainingCheckpoint.Write(dir, _state, _model, _ema.Model, _optimizer, _generator), _state.Options.KeepCheckpoints);
        _run.Publish(path);
        CheckpointHook?.Invoke(path, _state.Step);
        return true;
    }

    /// <summary>Every tensor of the network and of the EMA copy, parameters then buffers: what the reducer's weight hooks see.</summary>
    private Tensor[] Weights() =>
        [.. _model.Module.parameters(), .. _model.Module.buffers(), .. _ema.Model.Module.parameters(), .. _ema.Model.Module.buffers()];

    private void WeightsReady() => _seams.Reducer?.WeightsReady(Weights());

    private bool WeightsFinite()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return _model.Module.parameters().Concat(_ema.Model.Module.parameters()).All(p => p.isfinite().all().item<bool>());
    }

    private void RestoreFrom(string checkpoint)
    {
        TrainingCheckpoint.Restore(checkpoint, _ema.Model, _optimizer, _generator);
        if (_state.Loader is { } position) _loader.Restore(position);
        if (!Role.WritesFiles) return;
        _lossLog.TruncateAfter(_state.Step);
        // A crash while publishing can leave unet/ and unet_ema/ from different checkpoints: publish the resumed one again.
        _run.Publish(checkpoint);
    }

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the data, and about the network, given to the trainer.</summary>
    public const string DataProperty = "Trainer.Data", ModelProperty = "Trainer.Model";

    private static void CheckCompatible(IDenoiserConfig config, IDataset data)
    {
        if (CaptionedLatentDataset.LatentsOf(data) is { } latents)
        {
            if (config.InChannels != latents.LatentShape[0])
                throw new InvalidInputException($"Model has in_channels {config.InChannels} but the VAE's latents have {latents.LatentShape[0]} channel(s) (latent_channels)", ModelProperty);
            if (config.SampleShape is { } shape && !shape.SequenceEqual(latents.LatentShape))
                throw new InvalidInputException($"Model: sample shape [{string.Join(", ", shape)}] differs from the latents' [{string.Join(", ", latents.LatentShape)}]", ModelProperty);
        }
        int channels = CaptionedLatentDataset.LatentsOf(data) is { } l ? l.LatentShape[0] : data.SampleShape[0];
        if (config.InChannels != channels)
            throw new InvalidInputException($"Model has in_channels {config.InChannels} but the data samples have {channels} channel(s)", ModelProperty);
        if (config.OutChannels != config.InChannels)
            throw new InvalidInputException($"Model: out_channels ({config.OutChannels}) must equal in_channels ({config.InChannels}) to predict noise", ModelProperty);
        if (data.Count == 0) throw new InvalidInputException("Data: the dataset is empty", DataProperty);
    }

    public void Dispose()
    {
        if (Role.WritesFiles) _lossLog.Flush();
        _optimizer.Dispose();
        _generator.Dispose();
        _ema.Dispose();
        _formulation.Dispose();
    }
}
