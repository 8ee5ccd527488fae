using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// What the sampling loop reports after each step, for progress bars and trajectory pictures. The tensors belong to the
/// loop and are disposed after the callback returns: copy (<c>clone()</c>, <c>data&lt;float&gt;()</c>) what you keep.
/// </summary>
/// <param name="Index">The step index, 0..Count-1.</param>
/// <param name="Count">The number of steps of the run.</param>
/// <param name="Timestep">The timestep this step started from.</param>
/// <param name="Sample">The sample after the step, x_{t-1} [B, C, H, W].</param>
/// <param name="PredOriginalSample">The step's predicted x_0 [B, C, H, W], when the sampler computes one.</param>
public readonly record struct SamplingStep(int Index, int Count, double Timestep, Tensor Sample, Tensor? PredOriginalSample);
