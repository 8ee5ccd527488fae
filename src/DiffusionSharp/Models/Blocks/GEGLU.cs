using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// diffusers' <c>GEGLU</c> (Shazeer 2020, "GLU Variants Improve Transformer"): <c>proj</c> maps C to 2 x inner, the halves are
/// (value, gate), the output is value * GELU(gate) with the exact (erf) GELU.
/// </summary>
public sealed class GEGLU : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "proj")] private readonly Linear _proj;

    internal GEGLU(string path, long inFeatures, long innerFeatures, Device? device) : base(path)
    {
        _proj = nn.Linear(inFeatures, 2 * innerFeatures, device: device);
        RegisterComponents();
    }

    /// <summary>[..., C] to [..., inner].</summary>
    public override Tensor forward(Tensor input)
    {
        var halves = _proj.call(input).chunk(2, -1);
        return halves[0] * F.gelu(halves[1]);
    }
}
