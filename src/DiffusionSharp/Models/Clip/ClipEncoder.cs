using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Clip;

/// <summary>transformers' <c>CLIPEncoder</c>: the stack of encoder layers (<c>layers.N</c>).</summary>
internal sealed class ClipEncoder : nn.Module
{
    [ComponentName(Name = "layers")] private readonly ModuleList<ClipEncoderLayer> _layers;

    public ClipEncoder(ClipTextConfig config, Device? device, Generator? generator) : base("encoder")
    {
        _layers = new ModuleList<ClipEncoderLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++) _layers.Add(new ClipEncoderLayer(config, device, generator));
        RegisterComponents();
    }

    /// <summary>The layers in order.</summary>
    public IList<ClipEncoderLayer> Layers => _layers;
}
