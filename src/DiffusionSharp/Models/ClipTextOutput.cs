using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>What <see cref="ClipTextModel"/> returns (transformers' <c>BaseModelOutputWithPooling</c>); the caller owns and disposes it.</summary>
/// <param name="LastHiddenState">float <c>[B, L, D]</c>: the final LayerNorm of the last layer's output (Stable Diffusion's <c>encoder_hidden_states</c>).</param>
/// <param name="PoolerOutput">float <c>[B, D]</c>: <see cref="LastHiddenState"/> at each row's end-of-text token.</param>
/// <param name="HiddenStates">
/// When requested: N + 1 tensors <c>[B, L, D]</c>, the embeddings' output then each layer's output, before the final
/// LayerNorm (transformers' <c>hidden_states</c>); otherwise empty.
/// </param>
public sealed record ClipTextOutput(Tensor LastHiddenState, Tensor PoolerOutput, IReadOnlyList<Tensor> HiddenStates) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        LastHiddenState.Dispose();
        PoolerOutput.Dispose();
        foreach (var t in HiddenStates) t.Dispose();
    }
}
