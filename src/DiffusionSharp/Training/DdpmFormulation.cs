using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using DiffusionSharp.Noising;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// DDPM's objective (Ho et al. 2020): t ~ U{0, ..., T-1}, x_t = sqrt(alpha_bar_t)·x_0 + sqrt(1 - alpha_bar_t)·eps (eq. 4),
/// the network regressed with MSE on eps, x_0 or v (Salimans and Ho 2022), optionally weighted per sample by
/// min(SNR(t), gamma) (Hang et al. 2023, eq. 9) or by P2's (k + SNR(t))^-gamma (Choi et al. 2022).
/// </summary>
public sealed class DdpmFormulation : IFormulation
{
    private readonly ForwardProcess _forward;
    private readonly double? _snrGamma;
    private readonly (double Gamma, double K)? _p2;

    /// <summary>The objective over <paramref name="schedule"/>.</summary>
    /// <param name="schedule">The forward-process schedule.</param>
    /// <param name="predictionType">What the network learns to predict.</param>
    /// <param name="snrGamma">Min-SNR-gamma weighting; null = plain MSE.</param>
    /// <param name="p2">P2 weighting's gamma and k; null = none (at most one of the two weightings).</param>
    public DdpmFormulation(NoiseScheduleConfig schedule, PredictionType predictionType, double? snrGamma = null, (double Gamma, double K)? p2 = null)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (snrGamma is not null && p2 is not null) throw new ArgumentException("min-SNR and P2 weighting exclude each other", nameof(p2));
        Schedule = schedule;
        PredictionType = predictionType;
        _snrGamma = snrGamma;
        _p2 = p2;
        _forward = new ForwardProcess(NoiseSchedule.Create(schedule));
    }

    /// <summary>The objective a run's options and schedule name.</summary>
    public static DdpmFormulation For(TrainingOptions options, NoiseScheduleConfig schedule) =>
        new(schedule, options.PredictionType, options.SnrGamma,
            options.Formulation.P2Gamma is { } gamma ? (gamma, options.Formulation.P2K ?? 1.0) : null);

    /// <summary>The forward-process schedule.</summary>
    public NoiseScheduleConfig Schedule { get; }

    /// <inheritdoc />
    public FormulationKind Kind => FormulationKind.Ddpm;

    /// <inheritdoc />
    public PredictionType PredictionType { get; }

    /// <summary>int64 <c>[B]</c> timesteps, uniform over 0..T-1.</summary>
    public Tensor DrawNoiseLevels(long batchSize, Generator generator) =>
        torch.randint(0, _forward.Schedule.NumTrainTimesteps, [batchSize], dtype: ScalarType.Int64, generator: generator);

    /// <inheritdoc />
    public Tensor AddNoise(Tensor x0, Tensor noise, Tensor levels) => _forward.AddNoise(x0, noise, levels);

    /// <inheritdoc />
    public Tensor Target(Tensor x0, Tensor noise, Tensor levels) => _forward.TrainingTarget(PredictionType, x0, noise, levels);

    /// <summary>The network's output itself: DDPM does not precondition.</summary>
    public Tensor Predict(IDenoiser network, Tensor xt, Tensor levels, Condition condition) => network.Forward(xt, levels, condition);

    /// <summary>MSE over every element; with min-SNR or P2, each sample's mean squared error times its weight, averaged over the batch.</summary>
    public Tensor Loss(Tensor prediction, Tensor target, Tensor levels)
    {
        if (_snrGamma is null && _p2 is null) return torch.nn.functional.mse_loss(prediction, target);
        using var snr = _forward.Snr(levels);
        using var weight = _snrGamma is { } gamma
            ? MinSnrWeighting.Weight(snr, gamma, PredictionType)
            : P2Weighting.Weight(snr, _p2!.Value.Gamma, _p2.Value.K, PredictionType);
        return WeightedMse.Loss(prediction, target, weight);
    }

    /// <summary>
    /// DDPM over the training schedule with trailing timestep spacing (Lin et al. 2023), so few-step samplers built from
    /// the folder start at the last timestep.
    /// </summary>
    public (string ClassName, string ConfigJson) PipelineScheduler()
    {
        var scheduler = SchedulerFactory.Create("ddpm", Schedule, PredictionType, TimestepSpacing.Trailing);
        return (DDPMScheduler.ClassName, SchedulerFactory.ToConfigText(scheduler));
    }

    /// <inheritdoc />
    public void Dispose() => _forward.Dispose();
}
