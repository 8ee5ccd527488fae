using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>Where a training process stands among others, and what runs inside the step; the defaults are one process on the network's device.</summary>
/// <param name="Role">Which process this is (who writes files, which shard of each batch it reads).</param>
/// <param name="Reducer">Called at the gradients-ready point of every step; null = nothing.</param>
/// <param name="Device">For a resumed run: where to load the networks (null = the CPU). A new run trains on its network's device.</param>
public sealed record TrainingSeams(ProcessRole Role, IGradientReducer? Reducer = null, Device? Device = null)
{
    /// <summary>One process, no reducer, the CPU.</summary>
    public static TrainingSeams Default { get; } = new(ProcessRole.Single);
}
