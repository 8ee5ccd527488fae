namespace DiffusionSharp.Models;

/// <summary>The MLP activation of a CLIP text encoder (transformers' <c>hidden_act</c>).</summary>
public enum ClipActivation
{
    /// <summary><c>quick_gelu</c>: x·sigmoid(1.702·x), openai's CLIP and SD 1.x.</summary>
    QuickGelu,

    /// <summary><c>gelu</c>: the exact (erf) GELU, OpenCLIP ViT-H/14 (SD 2.x).</summary>
    Gelu,
}
