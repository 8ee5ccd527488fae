namespace DiffusionSharp.Training;

/// <summary>The phases of one training step, in order, as the benchmark's profile reports them.</summary>
internal enum TrainingPhase
{
    /// <summary>The next batch from the loader (bytes to floats in [-1, 1], one tensor).</summary>
    Data,

    /// <summary>Drawing t and the noise, q(x_t | x_0) and the training target.</summary>
    Noise,

    /// <summary>The network's forward pass and the loss.</summary>
    Forward,

    /// <summary>Zeroing the gradients, backpropagation and reading the loss.</summary>
    Backward,

    /// <summary>The global gradient norm and clipping.</summary>
    Clip,

    /// <summary>The AdamW update.</summary>
    Optimizer,

    /// <summary>The EMA update (after the step's tensors are released).</summary>
    Ema,
}
