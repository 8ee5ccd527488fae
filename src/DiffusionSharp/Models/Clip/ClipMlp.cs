using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Clip;

/// <summary>transformers' <c>CLIPMLP</c>: fc1, activation (quick_gelu or gelu), fc2.</summary>
internal sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "fc1")] private readonly Linear _fc1;
    [ComponentName(Name = "fc2")] private readonly Linear _fc2;

    private readonly ClipActivation _activation;

    public ClipMlp(ClipTextConfig config, Device? device, Generator? generator) : base("mlp")
    {
        _activation = config.HiddenAct;
        _fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize, device: device);
        _fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize, device: device);
        // _init_weights: fc_std = (2 D)^-1/2 factor for fc1, in_proj_std = D^-1/2 (2 layers)^-1/2 factor for fc2.
        var fcStd = Math.Pow(2.0 * config.HiddenSize, -0.5) * config.InitializerFactor;
        var inStd = Math.Pow(config.HiddenSize, -0.5) * Math.Pow(2.0 * config.NumHiddenLayers, -0.5) * config.InitializerFactor;
        ClipInit.Normal(_fc1.weight!, _fc1.bias, fcStd, generator);
        ClipInit.Normal(_fc2.weight!, _fc2.bias, inStd, generator);
        RegisterComponents();
    }

    /// <summary>[B, L, D] to [B, L, D].</summary>
    public override Tensor forward(Tensor hidden)
    {
        using var x = _fc1.call(hidden);
        // quick_gelu = x sigmoid(1.702 x) (openai's approximation); gelu = x Φ(x).
        using var activated = _activation == ClipActivation.QuickGelu ? x * F.sigmoid(x * 1.702) : F.gelu(x);
        return _fc2.call(activated);
    }
}
