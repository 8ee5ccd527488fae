using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Clip;

/// <summary>transformers' <c>CLIPEncoderLayer</c> (pre-norm): <c>h += self_attn(layer_norm1(h))</c>, <c>h += mlp(layer_norm2(h))</c>.</summary>
internal sealed class ClipEncoderLayer : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "self_attn")] private readonly ClipAttention _selfAttn;
    [ComponentName(Name = "layer_norm1")] private readonly LayerNorm _layerNorm1;
    [ComponentName(Name = "mlp")] private readonly ClipMlp _mlp;
    [ComponentName(Name = "layer_norm2")] private readonly LayerNorm _layerNorm2;

    public ClipEncoderLayer(ClipTextConfig config, Device? device, Generator? generator) : base("layer")
    {
        _selfAttn = new ClipAttention(config, device, generator);
        _layerNorm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        _mlp = new ClipMlp(config, device, generator);
        _layerNorm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        RegisterComponents();
    }

    /// <summary>[B, L, D] and the additive attention mask to [B, L, D].</summary>
    public override Tensor forward(Tensor hidden, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var h = hidden + _selfAttn.call(_layerNorm1.call(hidden), mask);
        return (h + _mlp.call(_layerNorm2.call(h))).MoveToOuterDisposeScope();
    }
}
