using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks;

/// <summary>The Transformer2DModel options of one UNet level.</summary>
/// <param name="Heads">Attention heads (diffusers' num_attention_heads, i.e. the config's attention_head_dim entry).</param>
/// <param name="Layers">BasicTransformerBlocks per Transformer2DModel.</param>
/// <param name="CrossAttentionDim">Width of the context tokens.</param>
/// <param name="Groups">norm_num_groups.</param>
/// <param name="LinearProjection">use_linear_projection.</param>
internal sealed record TransformerSettings(long Heads, int Layers, long CrossAttentionDim, int Groups, bool LinearProjection)
{
    /// <summary>A Transformer2DModel over <paramref name="channels"/> channels at <paramref name="path"/>.</summary>
    public Transformer2DModel Build(string path, long channels, Device? device) =>
        new(path, channels, Heads, Layers, CrossAttentionDim, Groups, LinearProjection, device);
}
