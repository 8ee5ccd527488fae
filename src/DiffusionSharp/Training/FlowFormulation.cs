using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// Rectified flow as diffusers' SD3 and Flux training scripts define it (Esser et al. 2024, sections 2 and 3.1):
/// u drawn from a density (logit-normal, mode or uniform), σ the training sigma of index floor(u·T) of the
/// flow-matching schedule (so the schedule's shift applies), x_σ = (1 - σ)·x_0 + σ·eps, the network given x_σ at timestep
/// σ·T and regressed on the velocity eps - x_0 (or, with preconditioned outputs, on x_0 through x_σ - σ·v), each sample's
/// MSE weighted by w(σ).
/// </summary>
public sealed class FlowFormulation : IFormulation
{
    private readonly Tensor _sigmas;

    /// <summary>The objective over <paramref name="schedule"/> with the given density and weighting.</summary>
    /// <param name="schedule">The training sigmas (T and the shift).</param>
    /// <param name="density">How u is drawn.</param>
    /// <param name="logitMean">logit_normal: the mean m.</param>
    /// <param name="logitStd">logit_normal: the standard deviation s.</param>
    /// <param name="modeScale">mode: the scale.</param>
    /// <param name="weighting">w(σ).</param>
    /// <param name="preconditionOutputs">Regress x_0 through x_σ - σ·v instead of the velocity.</param>
    public FlowFormulation(FlowMatchSchedule schedule, SigmaDensity density = SigmaDensity.LogitNormal, double logitMean = 0, double logitStd = 1,
        double modeScale = 1.29, FlowWeighting weighting = FlowWeighting.None, bool preconditionOutputs = false)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        schedule.Validate();
        Schedule = schedule;
        Density = density;
        (LogitMean, LogitStd, ModeScale, Weighting, PreconditionOutputs) = (logitMean, logitStd, modeScale, weighting, preconditionOutputs);
        _sigmas = torch.tensor(schedule.TrainingSigmas(), dtype: ScalarType.Float32);
    }

    /// <summary>The objective a run's options name (defaults filled in); the schedule's T is the run's.</summary>
    public static FlowFormulation For(TrainingOptions options, NoiseScheduleConfig schedule)
    {
        var f = options.Formulation.WithDefaults();
        return new FlowFormulation(new FlowMatchSchedule(schedule.NumTrainTimesteps, f.Shift!.Value), f.Density!.Value,
            f.LogitMean ?? 0, f.LogitStd ?? 1, f.ModeScale ?? 1.29, f.FlowWeighting!.Value, f.PreconditionOutputs!.Value);
    }

    /// <summary>The training sigmas.</summary>
    public FlowMatchSchedule Schedule { get; }

    /// <summary>How u is drawn.</summary>
    public SigmaDensity Density { get; }

    /// <summary>logit_normal's m.</summary>
    public double LogitMean { get; }

    /// <summary>logit_normal's s.</summary>
    public double LogitStd { get; }

    /// <summary>mode's scale.</summary>
    public double ModeScale { get; }

    /// <summary>w(σ).</summary>
    public FlowWeighting Weighting { get; }

    /// <summary>Whether x_0 is regressed through x_σ - σ·v.</summary>
    public bool PreconditionOutputs { get; }

    /// <inheritdoc />
    public FormulationKind Kind => FormulationKind.Flow;

    /// <summary>The velocity eps - x_0.</summary>
    public PredictionType PredictionType => PredictionType.FlowPrediction;

    /// <summary>
    /// u from the density (diffusers' <c>compute_density_for_timestep_sampling</c>), then float32 σ [B] = the training
    /// sigma of index floor(u·T) (u near 0 gives σ near 1).
    /// </summary>
    public Tensor DrawNoiseLevels(long batchSize, Generator generator)
    {
        using var scope = torch.NewDisposeScope();
        Tensor u = Density switch
        {
            SigmaDensity.LogitNormal => torch.sigmoid(torch.randn([batchSize], generator: generator) * LogitStd + LogitMean),
            SigmaDensity.Mode => ModeDensity(torch.rand([batchSize], generator: generator), ModeScale),
            _ => torch.rand([batchSize], generator: generator),
        };
        using var indices = (u * Schedule.NumTrainTimesteps).to_type(ScalarType.Int64).clamp(0, Schedule.NumTrainTimesteps - 1);
        return _sigmas.index_select(0, indices).MoveToOuterDisposeScope();
    }

    /// <summary>(1 - σ)·x_0 + σ·eps.</summary>
    public Tensor AddNoise(Tensor x0, Tensor noise, Tensor levels)
    {
        using var sigma = PerItem(levels, x0);
        using var keep = 1.0 - sigma;
        return keep * x0 + sigma * noise;
    }

    /// <summary>eps - x_0, or x_0 with preconditioned outputs.</summary>
    public Tensor Target(Tensor x0, Tensor noise, Tensor levels) => PreconditionOutputs ? x0.alias() : noise - x0;

    /// <summary>The network's velocity at timestep σ·T; with preconditioned outputs x_σ - σ·v.</summary>
    public Tensor Predict(IDenoiser network, Tensor xt, Tensor levels, Condition condition)
    {
        using var timestep = levels * (float)Schedule.NumTrainTimesteps;
        var velocity = network.Forward(xt, timestep, condition);
        if (!PreconditionOutputs) return velocity;
        using (velocity)
        {
            using var sigma = PerItem(levels, xt);
            return xt - sigma * velocity;
        }
    }

    /// <summary>mean_b(w(σ_b)·MSE_b) (diffusers' <c>compute_loss_weighting_for_sd3</c>).</summary>
    public Tensor Loss(Tensor prediction, Tensor target, Tensor levels)
    {
        using var weight = Weight(levels, Weighting);
        return WeightedMse.Loss(prediction, target, weight);
    }

    /// <summary>w(σ) per item: 1, σ^-2, or 2/(π(1 - 2σ + 2σ²)).</summary>
    public static Tensor Weight(Tensor sigma, FlowWeighting weighting) => weighting switch
    {
        FlowWeighting.SigmaSqrt => sigma.pow(-2.0),
        FlowWeighting.Cosmap => 2.0 / (Math.PI * (1 - 2 * sigma + 2 * sigma.square())),
        _ => torch.ones_like(sigma),
    };

    /// <summary>SD3's mode sampling: 1 - u - scale·(cos²(πu/2) - 1 + u).</summary>
    public static Tensor ModeDensity(Tensor u, double scale) => 1 - u - scale * ((u * (Math.PI / 2)).cos().square() - 1 + u);

    /// <summary>FlowMatchEuler over the training sigmas (the same T and shift), the sampler a flow model pairs with.</summary>
    public (string ClassName, string ConfigJson) PipelineScheduler() => (FlowMatchEulerDiscreteScheduler.ClassName,
        SchedulerFactory.ToConfigText(new FlowMatchEulerDiscreteScheduler(new FlowMatchEulerDiscreteOptions(Schedule))));

    /// <inheritdoc />
    public void Dispose() => _sigmas.Dispose();

    private static Tensor PerItem(Tensor levels, Tensor like) =>
        levels.view([levels.shape[0], .. Enumerable.Repeat(1L, (int)like.dim() - 1)]);
}
