using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// What <see cref="StableDiffusionPipeline.Generate"/> produced: the decoded image and every latent of the run, all on the
/// CPU and owned by this result.
/// </summary>
public sealed class TextToImageResult : IDisposable
{
    internal TextToImageResult(Tensor image, Tensor initialLatents, IReadOnlyList<Tensor> stepLatents, IReadOnlyList<double> timesteps,
        IReadOnlyList<Text.PromptTruncation> truncations)
    {
        Image = image;
        InitialLatents = initialLatents;
        StepLatents = stepLatents;
        Timesteps = timesteps;
        Truncations = truncations;
    }

    /// <summary>The VAE's decode of the final latents, float32 <c>[1, 3, H, W]</c>, nominally in [-1, 1] (not clamped).</summary>
    public Tensor Image { get; }

    /// <summary>The latents the loop started from (noise · init_noise_sigma), float32 <c>[1, C, H/f, W/f]</c>.</summary>
    public Tensor InitialLatents { get; }

    /// <summary>The latents after each step (diffusers' <c>latents</c> after <c>scheduler.step</c>), each <c>[1, C, H/f, W/f]</c>; the last is the final latent.</summary>
    public IReadOnlyList<Tensor> StepLatents { get; }

    /// <summary>The timestep of each step.</summary>
    public IReadOnlyList<double> Timesteps { get; }

    /// <summary>The prompts that were cut to the tokenizer's row length (0 = the prompt, 1 = the negative prompt).</summary>
    public IReadOnlyList<Text.PromptTruncation> Truncations { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Image.Dispose();
        InitialLatents.Dispose();
        foreach (var t in StepLatents) t.Dispose();
    }
}
