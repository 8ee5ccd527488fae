using TorchSharp.Modules;

namespace DiffusionSharp.Training;

/// <summary>
/// Acts on the gradients of a step once they are ready: after every micro-batch's backward pass, before clipping and the
/// optimizer step (where data-parallel training averages them over the processes, e.g. an MPI all-reduce).
/// </summary>
public interface IGradientReducer
{
    /// <summary>Called once per step with every trainable parameter (gradients in <c>.grad</c>); may change them in place.</summary>
    void GradientsReady(IReadOnlyList<Parameter> parameters);
}
