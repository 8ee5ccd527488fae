using DiffusionSharp.Conditioning;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>The architecture of an <see cref="IDenoiser"/>: an immutable record that round-trips to diffusers' <c>config.json</c>.</summary>
public interface IDenoiserConfig
{
    /// <summary>diffusers' class name (<c>_class_name</c>; the network's entry in <c>model_index.json</c>).</summary>
    string ClassName { get; }

    /// <summary>Channels of the sample the network reads.</summary>
    int InChannels { get; }

    /// <summary>Channels of its output.</summary>
    int OutChannels { get; }

    /// <summary>The shape <c>[C, ...]</c> of one sample the network is made for, or null when the config does not say.</summary>
    IReadOnlyList<int>? SampleShape { get; }

    /// <summary>What the network is conditioned on.</summary>
    ConditionKind Conditioning { get; }

    /// <summary>For <see cref="ConditionKind.ClassLabel"/>: the number of real classes; the null class is this number. 0 otherwise.</summary>
    int NumClasses { get; }

    /// <summary>
    /// How much the data is scaled before the diffusion process sees it (training multiplies, generation divides); 1 for
    /// every network but a waveform U-Net with <c>data_scale</c> (<see cref="AudioUNet1DConfig.DataScale"/>).
    /// </summary>
    double DataScale => 1.0;

    /// <summary>The config as diffusers writes it.</summary>
    string ToJson();

    /// <summary>A randomly initialised network of this architecture on <paramref name="device"/> (null = CPU; <c>meta</c> = shapes only).</summary>
    IDenoiser Build(Device? device = null);
}
