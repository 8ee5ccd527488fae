using DiffusionSharp.Schedules;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// Where a training process stands among others, and what runs inside the step; the defaults are one process, the
/// objective the options name, on the network's device.
/// </summary>
/// <param name="Role">Which process this is (who writes files, which shard of each batch it reads).</param>
/// <param name="Reducer">Called at the gradients-ready point of every step; null = nothing.</param>
/// <param name="Device">For a resumed run: where to load the networks (null = the CPU). A new run trains on its network's device.</param>
/// <param name="Formulation">
/// Builds the objective from the run's options and schedule (null = <see cref="Formulations.Create"/>, the formulation the
/// options name); a resumed run must be given the same one.
/// </param>
public sealed record TrainingSeams(ProcessRole Role, IGradientReducer? Reducer = null, Device? Device = null,
    Func<TrainingOptions, NoiseScheduleConfig, IFormulation>? Formulation = null)
{
    /// <summary>One process, no reducer, the CPU, the options' objective.</summary>
    public static TrainingSeams Default { get; } = new(ProcessRole.Single);
}
