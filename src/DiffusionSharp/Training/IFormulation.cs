using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// A training objective: how the noise level of each sample is drawn (a discrete timestep t or a continuous sigma), how
/// x_t is formed, what the network's prediction is compared with, how the loss is weighted, and what samplers the trained
/// network pairs with. The trainer owns the randomness and the loop; the formulation owns the mathematics.
/// </summary>
/// <remarks>
/// Tensors are batch-first <c>[B, C, ...]</c> of any rank; noise levels are <c>[B]</c> (int64 timesteps or float32 sigmas).
/// Methods return fresh tensors and dispose none of their inputs. A continuous-sigma objective (EDM, flow matching)
/// draws float levels and may precondition the network in <see cref="Predict"/> (c_in, c_noise, c_skip, c_out).
/// </remarks>
public interface IFormulation : IDisposable
{
    /// <summary>The family, which decides the samplers the trained network pairs with.</summary>
    FormulationKind Kind { get; }

    /// <summary>What the trained network predicts, as diffusers' <c>prediction_type</c> records it for the samplers.</summary>
    PredictionType PredictionType { get; }

    /// <summary>The noise levels of a batch of <paramref name="batchSize"/>, drawn on the CPU from <paramref name="generator"/>.</summary>
    Tensor DrawNoiseLevels(long batchSize, Generator generator);

    /// <summary>x_t: <paramref name="x0"/> noised with <paramref name="noise"/> (eps ~ N(0, I), shaped like x_0) at <paramref name="levels"/>.</summary>
    Tensor AddNoise(Tensor x0, Tensor noise, Tensor levels);

    /// <summary>What the prediction is compared with.</summary>
    Tensor Target(Tensor x0, Tensor noise, Tensor levels);

    /// <summary>The prediction at x_t: the network's output, or a preconditioned combination of it.</summary>
    Tensor Predict(IDenoiser network, Tensor xt, Tensor levels, Condition condition);

    /// <summary>The (weighted) mean loss of a batch or micro-batch, a scalar.</summary>
    Tensor Loss(Tensor prediction, Tensor target, Tensor levels);

    /// <summary>The sampler a pipeline folder of the trained network names in <c>scheduler/scheduler_config.json</c>: its diffusers class and config.</summary>
    (string ClassName, string ConfigJson) PipelineScheduler();
}
