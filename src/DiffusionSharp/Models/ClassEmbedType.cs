namespace DiffusionSharp.Models;

/// <summary>diffusers <c>class_embed_type</c>, with <c>null</c> + <c>num_class_embeds</c> meaning a lookup table.</summary>
public enum ClassEmbedType
{
    /// <summary>JSON <c>null</c>: an <c>nn.Embedding(num_class_embeds, 4*C0)</c> when <c>num_class_embeds</c> is set, else no class input.</summary>
    None,

    /// <summary><c>"timestep"</c>: labels go through the sinusoidal projection and their own TimestepEmbedding.</summary>
    Timestep,

    /// <summary><c>"identity"</c>: labels are already embedding vectors [B, 4*C0].</summary>
    Identity,
}
