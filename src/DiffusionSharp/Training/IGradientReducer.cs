using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// Acts on a step once its gradients are ready: after every micro-batch's backward pass, before clipping and the optimizer
/// step. Data-parallel training averages the gradients and the loss over the processes here (e.g. an MPI all-reduce), so
/// every process clips, steps and decides "finite or skipped" on the same numbers.
/// </summary>
public interface IGradientReducer
{
    /// <summary>Called once per step with every trainable parameter (gradients in <c>.grad</c>); may change them in place.</summary>
    void GradientsReady(IReadOnlyList<Parameter> parameters);

    /// <summary>The step's loss as the run records it, from this process's loss (the mean over its shard); called right after <see cref="GradientsReady"/>.</summary>
    double ReduceLoss(double loss) => loss;

    /// <summary>
    /// Called once the weights are in place, when a run starts and when it resumes, with every tensor of the network and
    /// of its EMA copy (parameters and buffers); may change them in place (data-parallel training broadcasts the writer's).
    /// </summary>
    void WeightsReady(IReadOnlyList<Tensor> weights) { }

    /// <summary>Called on every process before a checkpoint of <paramref name="step"/> is written, with the same tensors (data-parallel training checks that the processes agree).</summary>
    void CheckpointReached(int step, IReadOnlyList<Tensor> weights) { }
}
