using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Blocks1D;

/// <summary>
/// One resolution level of <see cref="AudioUNet1DModel"/>: resnets, optional self-attention, and a resampler. On the way down the
/// resampler follows the resnets (a strided convolution, kernel 2f - 1, padding f - 1: exactly L / f outputs); on the way up it comes
/// first (repeat each sample f times, then a kernel-3 convolution), and the level's skip is concatenated before the first resnet.
/// </summary>
internal sealed class AudioLevel1D : nn.Module
{
    [ComponentName(Name = "resnets")] private readonly ModuleList<ResnetBlock1D> _resnets;
    [ComponentName(Name = "attention")] private readonly SelfAttention1D? _attention;
    [ComponentName(Name = "resample")] private readonly Conv1d? _resample;

    private readonly bool _up;
    private readonly long _resampleChannels;

    /// <summary>The length factor of <see cref="_resample"/> (1 = none).</summary>
    public int Factor { get; }

    private AudioLevel1D(string path, bool up, IReadOnlyList<(long In, long Out)> resnets, long temb, int groups, bool attention,
        int factor, long resampleChannels, Device? device, bool scaleShift) : base(path)
    {
        _up = up;
        Factor = factor;
        _resampleChannels = resampleChannels;
        _resnets = new ModuleList<ResnetBlock1D>();
        for (var j = 0; j < resnets.Count; j++)
            _resnets.Add(new ResnetBlock1D($"{path}.resnets.{j}", resnets[j].In, resnets[j].Out, temb, groups, device, scaleShift));
        if (attention) _attention = new SelfAttention1D($"{path}.attention", resnets[^1].Out, device);
        if (factor > 1)
        {
            _resample = up
                ? nn.Conv1d(resampleChannels, resampleChannels, 3, padding: 1, device: device)
                : nn.Conv1d(resampleChannels, resampleChannels, 2 * factor - 1, stride: factor, padding: factor - 1, device: device);
        }
        RegisterComponents();
    }

    /// <summary>A level of the down path: <paramref name="layers"/> resnets <paramref name="inChannels"/> to <paramref name="channels"/>, then a /<paramref name="factor"/> downsampler (1 = none).</summary>
    public static AudioLevel1D Down(string path, long inChannels, long channels, int layers, long temb, int groups, bool attention, int factor, Device? device,
        bool scaleShift = false) =>
        new(path, false, Enumerable.Range(0, layers).Select(j => (j == 0 ? inChannels : channels, channels)).ToList(), temb, groups, attention, factor, channels, device, scaleShift);

    /// <summary>A level of the up path: an x<paramref name="factor"/> upsampler of <paramref name="inChannels"/> (1 = none), then the skip's <paramref name="channels"/> concatenated, then resnets.</summary>
    public static AudioLevel1D Up(string path, long inChannels, long channels, int layers, long temb, int groups, bool attention, int factor, Device? device,
        bool scaleShift = false) =>
        new(path, true, Enumerable.Range(0, layers).Select(j => (j == 0 ? inChannels + channels : channels, channels)).ToList(), temb, groups, attention, factor, inChannels, device, scaleShift);

    /// <summary>Down: [B, in, L] to the skip [B, C, L] and the output [B, C, L / f]. The caller owns both.</summary>
    public (Tensor Skip, Tensor Output) Down(Tensor hidden, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var h = RunResnets(hidden, temb);
        var output = _resample is null ? h.alias() : _resample.call(h);
        return (h.MoveToOuterDisposeScope(), output.MoveToOuterDisposeScope());
    }

    /// <summary>Up: [B, in, L / f] and the skip [B, C, L] to [B, C, L].</summary>
    public Tensor Up(Tensor hidden, Tensor skip, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var h = _resample is null ? hidden : _resample.call(hidden.repeat_interleave(Factor, 2));
        return RunResnets(cat([h, skip], 1), temb).MoveToOuterDisposeScope();
    }

    private Tensor RunResnets(Tensor h, Tensor temb)
    {
        foreach (var resnet in _resnets) h = resnet.call(h, temb);
        return _attention is null ? h : _attention.call(h);
    }

    /// <summary>FLOPs for one sample; <paramref name="length"/> is the level's own (the skip's) length.</summary>
    public long Flops(long length)
    {
        var flops = _resnets.Sum(r => r.Flops(length)) + (_attention?.Flops(length) ?? 0);
        if (_resample is null) return flops;
        var kernel = _up ? 3 : 2 * Factor - 1;
        var outLength = _up ? length : length / Factor;
        return flops + 2 * _resampleChannels * _resampleChannels * kernel * outLength;
    }
}
