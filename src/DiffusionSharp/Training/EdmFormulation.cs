using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// EDM's objective (Karras et al. 2022, section 5 and table 1): ln σ ~ N(P_mean, P_std²), x = x_0 + σ·eps, a plain
/// network F preconditioned into the denoiser D(x; σ) = c_skip·x + c_out·F(c_in·x; c_noise) (<see cref="EdmPreconditioning"/>),
/// and the loss λ(σ)·||D - x_0||² with λ(σ) = (σ² + σ_data²)/(σ·σ_data)². The network stays a plain one: the EDM samplers
/// apply the same preconditioning, so the saved folder loads back with it (and in diffusers).
/// </summary>
public sealed class EdmFormulation : IFormulation
{
    /// <summary>The objective with the given noise-level distribution and σ_data.</summary>
    /// <param name="pMean">P_mean, the mean of ln σ.</param>
    /// <param name="pStd">P_std, its standard deviation.</param>
    /// <param name="samplerSchedule">The sampler's noise levels and σ_data (the preconditioning's), written to the pipeline folder.</param>
    /// <param name="predictionType">epsilon (c_out &gt; 0) or v_prediction (c_out &lt; 0), as diffusers' EDM schedulers name them.</param>
    public EdmFormulation(double pMean, double pStd, EdmSchedule samplerSchedule, PredictionType predictionType = PredictionType.Epsilon)
    {
        ArgumentNullException.ThrowIfNull(samplerSchedule);
        samplerSchedule.Validate();
        if (predictionType is not (PredictionType.Epsilon or PredictionType.VPrediction))
            throw new ArgumentOutOfRangeException(nameof(predictionType), predictionType, "EDM trains epsilon or v_prediction");
        (PMean, PStd, SamplerSchedule, PredictionType) = (pMean, pStd, samplerSchedule, predictionType);
    }

    /// <summary>The objective a run's options name (defaults filled in).</summary>
    public static EdmFormulation For(TrainingOptions options, NoiseScheduleConfig schedule)
    {
        var f = options.Formulation.WithDefaults();
        return new EdmFormulation(f.PMean!.Value, f.PStd!.Value, new EdmSchedule(SigmaData: f.SigmaData!.Value, NumTrainTimesteps: schedule.NumTrainTimesteps),
            options.PredictionType);
    }

    /// <summary>P_mean.</summary>
    public double PMean { get; }

    /// <summary>P_std.</summary>
    public double PStd { get; }

    /// <summary>The sampler's noise levels and σ_data.</summary>
    public EdmSchedule SamplerSchedule { get; }

    /// <summary>σ_data.</summary>
    public double SigmaData => SamplerSchedule.SigmaData;

    /// <inheritdoc />
    public FormulationKind Kind => FormulationKind.Edm;

    /// <inheritdoc />
    public PredictionType PredictionType { get; }

    /// <summary>float32 σ [B] = exp(P_mean + P_std·n), n ~ N(0, 1).</summary>
    public Tensor DrawNoiseLevels(long batchSize, Generator generator)
    {
        using var n = torch.randn([batchSize], generator: generator);
        using var logSigma = n * PStd + PMean;
        return logSigma.exp();
    }

    /// <summary>x_0 + σ·eps.</summary>
    public Tensor AddNoise(Tensor x0, Tensor noise, Tensor levels)
    {
        using var sigma = levels.view([levels.shape[0], .. Enumerable.Repeat(1L, (int)x0.dim() - 1)]);
        return x0 + sigma * noise;
    }

    /// <summary>x_0: the denoiser's target.</summary>
    public Tensor Target(Tensor x0, Tensor noise, Tensor levels) => x0.alias();

    /// <summary>D(x; σ) = c_skip·x + c_out·F(c_in·x; c_noise(σ)).</summary>
    public Tensor Predict(IDenoiser network, Tensor xt, Tensor levels, Condition condition)
    {
        using var input = EdmPreconditioning.ScaledInput(xt, levels, SigmaData);
        using var noiseInput = EdmPreconditioning.NoiseInput(levels);
        using var output = network.Forward(input, noiseInput, condition);
        return EdmPreconditioning.Denoised(xt, output, levels, SigmaData, PredictionType);
    }

    /// <summary>mean_b(λ(σ_b)·MSE_b): the effective weight on F is 1 at every σ.</summary>
    public Tensor Loss(Tensor prediction, Tensor target, Tensor levels)
    {
        using var weight = EdmPreconditioning.LossWeight(levels, SigmaData);
        return WeightedMse.Loss(prediction, target, weight);
    }

    /// <summary>EDM DPM-Solver++ (2M) over the sampler's noise levels with this σ_data and prediction type.</summary>
    public (string ClassName, string ConfigJson) PipelineScheduler() => (EDMDPMSolverMultistepScheduler.ClassName,
        SchedulerFactory.ToConfigText(new EDMDPMSolverMultistepScheduler(new EDMDPMSolverMultistepOptions(SamplerSchedule, PredictionType))));

    /// <inheritdoc />
    public void Dispose() { }
}
