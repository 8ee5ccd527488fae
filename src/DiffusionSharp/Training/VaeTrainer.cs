using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DiffusionSharp.Data;
using DiffusionSharp.Imaging;
using DiffusionSharp.IO;
using DiffusionSharp.Models.Autoencoders;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// Trains an <see cref="AutoencoderKL"/> on images: per step, encode the batch to q(z|x), draw z ~ q(z|x), decode, and minimise
/// reconstruction + KL (<see cref="VaeTrainingOptions"/>) with AdamW, gradient clipping and an EMA copy. Checkpoints are atomic and
/// resume is exact (weights, EMA, optimizer moments, generator and data position). A seeded split holds images out for PSNR.
/// </summary>
/// <remarks>
/// The run folder follows <see cref="RunFolder"/>: <c>training_state/step-NNNNNNN/</c> checkpoints (<c>vae/</c>, <c>vae_ema/</c>,
/// <c>optimizer.bin</c>, <c>rng.bin</c>, <c>state.json</c>) and <c>loss.csv</c>; after each checkpoint the top-level <c>vae/</c> is a
/// diffusers AutoencoderKL folder holding the EMA weights with <c>scaling_factor</c> = 1 / std of the latents, as the LDM paper sets it.
/// <see cref="Finish"/> adds <c>reconstructions.png</c> (held-out originals above their reconstructions) and <c>reconstruction.json</c>.
/// </remarks>
public sealed class VaeTrainer : IDisposable
{
    /// <summary>Files and folders of a VAE run (beside <see cref="RunFolder"/>'s <c>training_state/</c> and <c>loss.csv</c>).</summary>
    public const string VaeDirName = "vae", EmaDirName = "vae_ema", ReportFileName = "reconstruction.json", ImageFileName = "reconstructions.png";

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the network given for the data.</summary>
    public const string ModelProperty = "VaeTrainer.Model";

    private const string StateFile = "state.json";
    private const ulong SplitSalt = 0x5641_4553_504C_4954UL, LatentSalt = 0x5641_454C_4154_454EUL;
    private const int MaxScaleImages = 256, PreviewImages = 8;

    private readonly RunFolder _run;
    private readonly AutoencoderKL _model;
    private readonly AutoencoderKL _ema;
    private readonly WeightAverage _average;
    private readonly AdamW _optimizer;
    private readonly Generator _generator;
    private readonly BatchLoader _loader;
    private readonly DatasetSubset _train, _heldOut;
    private readonly LossLog _lossLog;
    private VaeTrainingState _state;

    private VaeTrainer(RunFolder run, AutoencoderKL model, IImageDataset data, VaeTrainingState state)
    {
        var o = state.Options;
        CheckCompatible(model.Config, data);
        _run = run;
        _model = model;
        _state = state;
        (_train, _heldOut) = Split(data, o.HeldOutCount(data.Count), o.Seed);
        _ema = new AutoencoderKL(model.Config, model.Device);
        _average = new WeightAverage(model, _ema);
        _optimizer = torch.optim.AdamW(model.parameters(), o.LearningRate, o.Beta1, o.Beta2, 1e-8, 0.0);
        _generator = new Generator((ulong)o.Seed);
        _loader = new BatchLoader(_train, Math.Min(o.BatchSize, _train.Count), o.Seed, shuffle: true, dropLast: true);
        _lossLog = new LossLog(run.LossCsvPath);
    }

    /// <summary>The run folder.</summary>
    public RunFolder Run => _run;

    /// <summary>The network being trained.</summary>
    public AutoencoderKL Model => _model;

    /// <summary>The EMA network (what the published <c>vae/</c> holds).</summary>
    public AutoencoderKL EmaModel => _ema;

    /// <summary>Steps completed so far.</summary>
    public int Step => _state.Step;

    /// <summary>The options in force.</summary>
    public VaeTrainingOptions Options => _state.Options;

    /// <summary>Images trained on, and images held out for PSNR.</summary>
    public int TrainCount => _train.Count;

    /// <inheritdoc cref="TrainCount"/>
    public int HeldOutCount => _heldOut.Count;

    /// <summary>The top-level diffusers folder of the EMA autoencoder.</summary>
    public string VaeDir => Path.Combine(_run.Root, VaeDirName);

    /// <summary>Starts a new run in <paramref name="run"/> (an empty loss log; the first checkpoint publishes <c>vae/</c>).</summary>
    /// <param name="run">A folder from <see cref="RunFolder.Create"/>.</param>
    /// <param name="model">A freshly built autoencoder (its initial weights are the run's).</param>
    /// <param name="data">Images [C, H, W] in [-1, 1], of the model's in_channels and a side divisible by its downsampling.</param>
    /// <param name="dataSpec">Where <paramref name="data"/> came from (recorded so resume reopens it).</param>
    /// <param name="options">The knobs.</param>
    /// <exception cref="InvalidInputException">Invalid options, or a network that does not fit the data.</exception>
    public static VaeTrainer Start(RunFolder run, AutoencoderKL model, IImageDataset data, DataSpec dataSpec, VaeTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(model);
        options.Validate();
        var trainer = new VaeTrainer(run, model, data, new VaeTrainingState { Step = 0, Options = options, Data = dataSpec });
        foreach (var dir in new[] { trainer.VaeDir, Path.Combine(run.Root, EmaDirName) })
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        foreach (var file in new[] { ReportFileName, ImageFileName }) File.Delete(Path.Combine(run.Root, file));
        trainer._lossLog.Create();
        return trainer;
    }

    /// <summary>Continues the run in <paramref name="run"/> from its newest checkpoint; <paramref name="steps"/> = a new step target, or null to keep it.</summary>
    /// <exception cref="InvalidInputException">No complete checkpoint, or one this trainer did not write.</exception>
    /// <param name="run">The run folder.</param>
    /// <param name="steps">A new step target, or null.</param>
    /// <param name="device">Where the networks run; null = the CPU.</param>
    public static VaeTrainer Resume(RunFolder run, int? steps = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        string checkpoint = run.LatestCheckpoint()
            ?? throw new InvalidInputException($"Resume: {run.Root} has no complete checkpoint", RunFolder.ResumeProperty);
        if (!Directory.Exists(Path.Combine(checkpoint, VaeDirName)))
            throw new InvalidInputException($"Resume: {checkpoint} is not a VAE checkpoint (no {VaeDirName}/; a U-Net run resumes with diffuse train)", RunFolder.ResumeProperty);
        string statePath = Path.Combine(checkpoint, StateFile);
        var state = VaeTrainingState.FromJson(JsonFile.ReadText(statePath, "training state"), statePath);
        if (steps is { } s) state = state with { Options = state.Options with { Steps = s } };
        state.Options.Validate();
        var model = AutoencoderKL.FromPretrained(Path.Combine(checkpoint, VaeDirName), device);
        var data = state.Data.Open(model.Config.SampleSize);
        var trainer = new VaeTrainer(run, model, data, state);
        using (var ema = AutoencoderKL.FromPretrained(Path.Combine(checkpoint, EmaDirName), device))
        using (torch.no_grad())
            trainer._ema.load_state_dict(ema.state_dict());
        TrainingCheckpoint.RestoreOptimizerAndGenerator(checkpoint, trainer._optimizer, trainer._generator);
        if (state.Loader is { } position) trainer._loader.Restore(position);
        trainer._lossLog.TruncateAfter(state.Step);
        return trainer;
    }

    /// <summary>
    /// Trains until the step target or until <paramref name="cancellationToken"/> fires; either way the last completed step is
    /// checkpointed (and <c>vae/</c> published) before returning, unless the weights became non-finite.
    /// </summary>
    public TrainingOutcome Train(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var o = _state.Options;
        var clock = Stopwatch.StartNew();
        double secondsBefore = _state.TrainingSeconds;
        int startStep = _state.Step, badInARow = 0;
        double smoothed = double.NaN;
        var parameters = _model.parameters().ToArray();
        var reason = StopReason.Finished;
        while (_state.Step < o.Steps)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                reason = StopReason.Cancelled;
                break;
            }
            double lr = LearningRateSchedule.At(_state.Step, o.Steps, o.LearningRate, o.WarmupSteps, LearningRateDecay.Constant);
            double loss = TrainStep(parameters, lr, out bool finite);
            if (finite)
            {
                _average.Update(WeightAverage.DecayAt(_state.Step + 1, o.EmaDecay));
                badInARow = 0;
                smoothed = double.IsNaN(smoothed) ? loss : 0.98 * smoothed + 0.02 * loss;
            }
            else
            {
                _state = _state with { SkippedSteps = _state.SkippedSteps + 1 };
                if (++badInARow >= o.MaxBadSteps)
                {
                    reason = StopReason.TooManyBadSteps;
                    break;
                }
            }
            _state = _state with { Step = _state.Step + 1, Loader = _loader.GetState() };
            _lossLog.Add(_state.Step, loss, finite, lr);
            double ips = (_state.Step - startStep) * (double)_loader.BatchSize / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
            progress?.Report(new TrainingProgress(_state.Step, o.Steps, loss, smoothed, ips, lr, _state.SkippedSteps));
            if (o.CheckpointEvery > 0 && _state.Step % o.CheckpointEvery == 0 && _state.Step < o.Steps && badInARow == 0
                && !TryCheckpoint(secondsBefore + clock.Elapsed.TotalSeconds))
            {
                reason = StopReason.NonFiniteWeights;
                break;
            }
        }
        if (reason is StopReason.Finished or StopReason.Cancelled && !TryCheckpoint(secondsBefore + clock.Elapsed.TotalSeconds))
            reason = StopReason.NonFiniteWeights;
        return new TrainingOutcome(reason, _state.Step, startStep, clock.Elapsed, _state.SkippedSteps);
    }

    /// <summary>
    /// Scores the EMA network on the held-out images and measures the latent scale (<see cref="VaeReconstructionReport"/>), without
    /// writing anything. Deterministic: the latent samples come from a generator seeded from the run's seed.
    /// </summary>
    public VaeReconstructionReport Evaluate()
    {
        double psnr = HeldOutPsnr();
        double std = LatentStd();
        return new VaeReconstructionReport(_state.Step, _heldOut.Count, psnr, std, 1.0 / std);
    }

    /// <summary>
    /// Evaluates (<see cref="Evaluate"/>) and writes <c>reconstruction.json</c> and <c>reconstructions.png</c> (up to 8 held-out
    /// originals in the top row, their reconstructions by the EMA network below), each atomically.
    /// </summary>
    public VaeReconstructionReport Finish()
    {
        var report = Evaluate();
        var json = new JsonObject
        {
            ["step"] = report.Step,
            ["held_out_images"] = report.HeldOutImages,
            ["psnr_db"] = report.PsnrDb,
            ["latent_std"] = report.LatentStd,
            ["scaling_factor"] = report.ScalingFactor,
            ["loss"] = _state.Options.Loss.ToString().ToLowerInvariant(),
            ["kl_weight"] = _state.Options.KlWeight,
        };
        AtomicFile.WriteAllText(Path.Combine(_run.Root, ReportFileName), json.ToJsonString(new() { WriteIndented = true }) + "\n");
        using var scope = torch.NewDisposeScope();
        using var mode = torch.inference_mode();
        int n = Math.Min(PreviewImages, _heldOut.Count);
        var originals = LoadImages(_heldOut, 0, n);
        var reconstructions = _ema.Reconstruct(originals).clamp(-1, 1);
        ImageGrid.SavePng(torch.cat([originals, reconstructions], 0), Path.Combine(_run.Root, ImageFileName), n);
        return report;
    }

    /// <summary>One optimizer step; returns the loss and whether it and the gradients were finite (otherwise nothing changed).</summary>
    private double TrainStep(Parameter[] parameters, double lr, out bool finite)
    {
        var o = _state.Options;
        using var scope = torch.NewDisposeScope();
        using var batch = _loader.Next();
        var x = batch.Samples.to(_model.Device);
        _model.train();
        _optimizer.zero_grad();
        using var posterior = _model.Encode(x);
        var z = posterior.Sample(_generator);
        var reconstruction = _model.Decode(z);
        var error = reconstruction - x;
        var rec = o.Loss == ReconstructionLoss.L1 ? error.abs().mean() : error.square().mean();
        // LDM: sum over pixels of rec + kl_weight · KL per image; divided by the pixel count, rec becomes a mean.
        long pixels = x.shape[1] * x.shape[2] * x.shape[3];
        var loss = rec + posterior.KlToStandardNormal().mean() * (o.KlWeight / pixels);
        loss.backward();
        double lossValue = loss.item<float>();
        double gradNorm = o.GradClip > 0 ? torch.nn.utils.clip_grad_norm_(parameters, o.GradClip) : double.NaN;
        finite = double.IsFinite(lossValue) && (o.GradClip == 0 || double.IsFinite(gradNorm));
        if (!finite)
        {
            _optimizer.zero_grad();
            return lossValue;
        }
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        _optimizer.step();
        return lossValue;
    }

    /// <summary>Writes a checkpoint and publishes <c>vae/</c>; refuses (false, nothing written) when a weight is not finite.</summary>
    private bool TryCheckpoint(double trainingSeconds)
    {
        if (!WeightsFinite()) return false;
        _state = _state with { TrainingSeconds = trainingSeconds, Loader = _loader.GetState() };
        _lossLog.Flush();
        _run.WriteCheckpoint(_state.Step, dir =>
        {
            _model.SavePretrained(Path.Combine(dir, VaeDirName));
            _ema.SavePretrained(Path.Combine(dir, EmaDirName));
            TrainingCheckpoint.WriteOptimizerAndGenerator(dir, _optimizer, _generator);
            AtomicFile.WriteAllText(Path.Combine(dir, StateFile), _state.ToJson());
        }, _state.Options.KeepCheckpoints);
        Publish();
        return true;
    }

    /// <summary>The EMA weights as a diffusers folder with the measured scaling_factor (weights first, config.json last, each atomic).</summary>
    private void Publish()
    {
        double std = LatentStd();
        var config = _ema.Config with { ScalingFactor = 1.0 / std };
        using var published = new AutoencoderKL(config, _ema.Device);
        using (torch.no_grad()) published.load_state_dict(_ema.state_dict());
        published.SavePretrained(VaeDir);
    }

    private bool WeightsFinite()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return _model.parameters().Concat(_ema.parameters()).All(p => p.isfinite().all().item<bool>());
    }

    /// <summary>Mean per-image PSNR (dB, [0, 1] pixels) of the EMA network's reconstructions (posterior mean) of the held-out images.</summary>
    private double HeldOutPsnr()
    {
        double sum = 0;
        int batch = Math.Max(1, _loader.BatchSize);
        for (int start = 0; start < _heldOut.Count; start += batch)
        {
            using var scope = torch.NewDisposeScope();
            using var mode = torch.inference_mode();
            int n = Math.Min(batch, _heldOut.Count - start);
            var x = LoadImages(_heldOut, start, n);
            // [-1, 1] → [0, 1] halves the error, so MSE on [0, 1] is a quarter of MSE on [-1, 1].
            var mse = (_ema.Reconstruct(x).clamp(-1, 1) - x).square().mean([1, 2, 3]) * 0.25;
            var psnr = -10.0 * mse.clamp_min(1e-10).log10();
            sum += psnr.sum().to_type(ScalarType.Float64).item<double>();
        }
        return sum / _heldOut.Count;
    }

    /// <summary>
    /// LDM's scale: the standard deviation of posterior samples z of the EMA network over up to 256 training images (all values
    /// pooled), drawn from a generator seeded from the run's seed so the measurement does not move the training generator.
    /// </summary>
    private double LatentStd()
    {
        using var scope = torch.NewDisposeScope();
        using var mode = torch.inference_mode();
        using var generator = new Generator((ulong)_state.Options.Seed ^ LatentSalt);
        int count = Math.Min(MaxScaleImages, _train.Count), batch = Math.Max(1, _loader.BatchSize);
        var parts = new List<Tensor>();
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            using var posterior = _ema.Encode(LoadImages(_train, start, n));
            parts.Add(posterior.Sample(generator).flatten());
        }
        double std = torch.cat(parts, 0).std().item<float>();
        if (!(std > 0) || !double.IsFinite(std))
            throw new InvalidOperationException($"latent standard deviation is {std.ToString(CultureInfo.InvariantCulture)}: the encoder's latents are constant or not finite");
        return std;
    }

    /// <summary>Images <paramref name="start"/>..start+n of <paramref name="data"/>, [n, C, H, W] on the network's device.</summary>
    private Tensor LoadImages(IDataset data, int start, int n)
    {
        var buffer = new float[n * data.SampleSize];
        data.FillBatch(Enumerable.Range(start, n).ToArray(), buffer, new long[data.HasLabels ? n : 0]);
        long[] shape = [n, .. data.SampleShape.Select(d => (long)d)];
        return torch.tensor(buffer, shape).to(_model.Device);
    }

    /// <summary>
    /// The held-out split: the first <paramref name="heldOut"/> indices of a permutation drawn from the seed (salted, so it is not
    /// the first epoch's order), both parts in dataset order.
    /// </summary>
    private static (DatasetSubset Train, DatasetSubset HeldOut) Split(IDataset data, int heldOut, long seed)
    {
        using var generator = new Generator((ulong)seed ^ SplitSalt);
        using var permutation = torch.randperm(data.Count, generator: generator);
        var order = permutation.data<long>().Select(i => (int)i).ToArray();
        var held = order[..heldOut].Order().ToArray();
        var train = order[heldOut..].Order().ToArray();
        return (new DatasetSubset(data, train), new DatasetSubset(data, held));
    }

    private static void CheckCompatible(AutoencoderKLConfig config, IImageDataset data)
    {
        if (config.InChannels != data.Channels)
            throw new InvalidInputException($"Model has in_channels {config.InChannels} but the data images have {data.Channels} channel(s)", ModelProperty);
        if (config.OutChannels != config.InChannels)
            throw new InvalidInputException($"Model: out_channels ({config.OutChannels}) must equal in_channels ({config.InChannels}) to reconstruct its input", ModelProperty);
        int f = config.DownsamplingFactor;
        if (data.Height % f != 0 || data.Width % f != 0)
            throw new InvalidInputException($"Data: images are {data.Width}x{data.Height}, not a multiple of the autoencoder's downsampling factor {f}", ModelProperty);
    }

    public void Dispose()
    {
        _lossLog.Flush();
        _optimizer.Dispose();
        _generator.Dispose();
        _ema.Dispose();
    }
}
