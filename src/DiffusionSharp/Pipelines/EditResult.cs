using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>The outcome of <see cref="ImageEditor.Edit"/>; owns its tensors.</summary>
public sealed class EditResult : IDisposable
{
    internal EditResult(Tensor image, Tensor noised, double startTimestep, int stepsRun, int modelCalls)
    {
        Image = image;
        Noised = noised;
        StartTimestep = startTimestep;
        StepsRun = stepsRun;
        ModelCalls = modelCalls;
    }

    /// <summary>The edited images [B, C, H, W] float32, in the model's data range.</summary>
    public Tensor Image { get; }

    /// <summary>
    /// Where denoising started, as the network saw it (the scheduler's scaled model input, so x_t of the variance-preserving
    /// process for every sampler) [B, C, H, W]; for pictures.
    /// </summary>
    public Tensor Noised { get; }

    /// <summary>The first timestep denoised.</summary>
    public double StartTimestep { get; }

    /// <summary>Sampler steps run (entries of the scheduler's timesteps visited).</summary>
    public int StepsRun { get; }

    /// <summary>Network calls made, resampling included.</summary>
    public int ModelCalls { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Image.Dispose();
        Noised.Dispose();
    }
}
