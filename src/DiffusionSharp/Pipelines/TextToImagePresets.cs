using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;

namespace DiffusionSharp.Pipelines;

/// <summary>Named text-to-image pipeline architectures: Stable Diffusion 1.5's, and a small one for quick runs and tests.</summary>
public static class TextToImagePresets
{
    /// <summary>
    /// Stable Diffusion 1.x's scheduler, <c>scheduler/scheduler_config.json</c> of runwayml/stable-diffusion-v1-5: PNDM (PLMS
    /// steps only) over the scaled-linear betas 0.00085..0.012 of 1000 training steps.
    /// </summary>
    public const string StableDiffusionSchedulerJson = """
        {
          "_class_name": "PNDMScheduler",
          "beta_end": 0.012,
          "beta_schedule": "scaled_linear",
          "beta_start": 0.00085,
          "clip_sample": false,
          "num_train_timesteps": 1000,
          "set_alpha_to_one": false,
          "skip_prk_steps": true,
          "steps_offset": 1,
          "trained_betas": null
        }
        """;

    /// <summary>
    /// <c>sd15</c>: Stable Diffusion 1.5 (runwayml/stable-diffusion-v1-5): the <see cref="UNet2DConditionPresets.StableDiffusion15"/>
    /// UNet (859,520,964 parameters), openai/clip-vit-large-patch14's text model (123,060,480) and the KL-f8 VAE
    /// <see cref="AutoencoderPresets.StableDiffusion"/> (83,653,863), with its PNDM scheduler; 512x512 images.
    /// </summary>
    public static TextToImagePreset StableDiffusion15 { get; } = new("sd15", UNet2DConditionPresets.StableDiffusion15,
        ClipTextConfig.StableDiffusion15, AutoencoderPresets.StableDiffusion, StableDiffusionSchedulerJson,
        new PipelineParameterCounts(859_520_964, 123_060_480, 83_653_863));

    /// <summary>
    /// <c>text-tiny</c>: the <see cref="UNet2DConditionPresets.TextTiny"/> UNet (16x16x4 latents, 256-wide context), a 4-layer
    /// CLIP text model 256 wide, and the <see cref="AutoencoderPresets.KLRgb64"/> VAE (64x64 images, factor 4), SD's scheduler.
    /// </summary>
    public static TextToImagePreset TextTiny { get; } = new("text-tiny", UNet2DConditionPresets.TextTiny,
        ClipTextConfig.Tiny with { HiddenSize = 256, IntermediateSize = 1024, ProjectionDim = 256 }, AutoencoderPresets.KLRgb64,
        StableDiffusionSchedulerJson, null);

    /// <summary>Preset names, in the order they should be listed.</summary>
    public static IReadOnlyList<string> Names { get; } = ["sd15", "text-tiny"];

    /// <summary>Whether <paramref name="name"/> names a preset (case-insensitive).</summary>
    public static bool Contains(string? name) => name is not null && Names.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="InvalidInputException">No such preset; the message lists the available ones.</exception>
    public static TextToImagePreset Get(string name) => name?.ToLowerInvariant() switch
    {
        "sd15" => StableDiffusion15,
        "text-tiny" => TextTiny,
        _ => throw new InvalidInputException($"text-to-image preset '{name}' is unknown: expected one of {string.Join(", ", Names)}"),
    };
}
