using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Clip;

/// <summary>transformers' <c>CLIPTextTransformer</c> (<c>text_model</c>): embeddings, encoder, final LayerNorm.</summary>
internal sealed class ClipTextTransformer : nn.Module
{
    [ComponentName(Name = "embeddings")] private readonly ClipTextEmbeddings _embeddings;
    [ComponentName(Name = "encoder")] private readonly ClipEncoder _encoder;
    [ComponentName(Name = "final_layer_norm")] private readonly LayerNorm _finalLayerNorm;

    public ClipTextTransformer(ClipTextConfig config, Device? device, Generator? generator) : base("text_model")
    {
        _embeddings = new ClipTextEmbeddings(config, device, generator);
        _encoder = new ClipEncoder(config, device, generator);
        _finalLayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device);
        RegisterComponents();
    }

    public ClipTextEmbeddings Embeddings => _embeddings;

    public IList<ClipEncoderLayer> Layers => _encoder.Layers;

    public LayerNorm FinalLayerNorm => _finalLayerNorm;

    public Device Device => _finalLayerNorm.weight!.device;
}
