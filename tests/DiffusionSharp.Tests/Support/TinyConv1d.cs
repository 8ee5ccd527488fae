using DiffusionSharp.Conditioning;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Support;

/// <summary>The architecture of <see cref="TinyConv1d"/>: a network of another class and another rank than UNet2DModel.</summary>
public sealed record TinyConv1dConfig(int Channels, int Length) : IDenoiserConfig
{
    public string ClassName => "TinyConv1d";
    public int InChannels => Channels;
    public int OutChannels => Channels;
    public IReadOnlyList<int>? SampleShape => [Channels, Length];
    public ConditionKind Conditioning => ConditionKind.None;
    public int NumClasses => 0;
    public string ToJson() => $"{{\"_class_name\": \"{ClassName}\", \"channels\": {Channels}, \"length\": {Length}}}";
    public IDenoiser Build(Device? device = null) => new TinyConv1d(this, device);
}

/// <summary>A 1-D denoiser [B, C, L] -> [B, C, L]: one 3-tap convolution plus a learned bias per timestep scale.</summary>
public sealed class TinyConv1d : nn.Module<Tensor, Tensor>, IDenoiser
{
    private readonly Conv1d conv;
    private readonly Linear time;
    private readonly TinyConv1dConfig _config;

    public TinyConv1d(TinyConv1dConfig config, Device? device = null) : base(nameof(TinyConv1d))
    {
        _config = config;
        conv = nn.Conv1d(config.Channels, config.Channels, 3, padding: 1, device: device);
        time = nn.Linear(1, config.Channels, device: device);
        RegisterComponents();
    }

    public IDenoiserConfig Config => _config;
    public nn.Module Module => this;
    public Device Device => conv.weight!.device;

    public Tensor Forward(Tensor sample, Tensor timestep, Condition condition)
    {
        if (condition is not NoCondition) throw new ArgumentException("TinyConv1d is unconditional", nameof(condition));
        using var scope = NewDisposeScope();
        var t = timestep.to_type(ScalarType.Float32).reshape(-1, 1) / 1000.0;
        return (conv.call(sample) + time.call(t).unsqueeze(-1)).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor sample) => conv.call(sample);

    public long FlopsPerSample(IReadOnlyList<int> sampleShape) => 2L * _config.Channels * _config.Channels * 3 * sampleShape[1] + 2L * _config.Channels;

    public void SavePretrained(string folder)
    {
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, UNet2DModel.WeightsFileName), state_dict());
        File.WriteAllText(Path.Combine(folder, UNet2DModel.ConfigFileName), _config.ToJson());
    }

    public IDenoiser CreateEmpty(Device? device = null) => new TinyConv1d(_config, device ?? Device);
}
