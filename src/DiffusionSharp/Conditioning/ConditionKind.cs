namespace DiffusionSharp.Conditioning;

/// <summary>What a network is conditioned on.</summary>
public enum ConditionKind
{
    /// <summary>Nothing: an unconditional model (diffusers' UNet2DModel without class embeddings, UNet1DModel).</summary>
    None,

    /// <summary>A class label per sample (UNet2DModel's <c>class_labels</c> with <c>num_class_embeds</c>).</summary>
    ClassLabel,

    /// <summary>A sequence of embeddings per sample, e.g. a text encoder's output (UNet2DConditionModel's <c>encoder_hidden_states</c>).</summary>
    Embedding,

    /// <summary>
    /// Token ids per sample for a network that holds its own text encoder (<see cref="TokenCondition"/>): the text encoder
    /// trains with the U-Net, so the ids, not their embeddings, travel with the batch.
    /// </summary>
    Tokens,
}
