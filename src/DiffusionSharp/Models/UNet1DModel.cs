using DiffusionSharp.Conditioning;
using DiffusionSharp.IO;
using DiffusionSharp.Models.Blocks1D;
using DiffusionSharp.Models.Embeddings;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// A TorchSharp port of diffusers' (0.30.3) <c>UNet1DModel</c> with the Dance Diffusion blocks: a waveform U-Net over
/// <c>[B, C, L]</c>. The time embedding is not added inside resnets: it is repeated along the length and concatenated to the input
/// by the first block (<c>DownBlock1DNoSkip</c>). Parameter names equal diffusers' <c>state_dict</c> keys, including the resamplers'
/// <c>kernel</c> buffers, so diffusers folders load directly. Dance Diffusion uses continuous t in [0, 1] as the timestep.
/// </summary>
public sealed class UNet1DModel : nn.Module<Tensor, Tensor, Tensor>, IDenoiser
{
    [ComponentName(Name = "time_proj")] private readonly nn.Module<Tensor, Tensor> _timeProj;
    [ComponentName(Name = "down_blocks")] private readonly ModuleList<DownBlock1D> _downBlocks;
    [ComponentName(Name = "mid_block")] private readonly UNetMidBlock1D? _midBlock;
    [ComponentName(Name = "up_blocks")] private readonly ModuleList<UpBlock1D> _upBlocks;

    /// <summary>Builds a randomly initialised model (PyTorch's default init, as diffusers).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Parameter device; null = CPU; <c>meta</c> = shapes only.</param>
    /// <exception cref="InvalidInputException">The config is invalid (e.g. a level with attention has fewer than 32 channels).</exception>
    public UNet1DModel(UNet1DConfig config, Device? device = null) : base(nameof(UNet1DModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var ch = config.BlockOutChannels;
        _timeProj = config.TimeEmbeddingType == TimeEmbeddingType.Fourier
            ? new GaussianFourierProjection(UNet1DConfig.FourierFrequencies, 1.0, device, log: false, flipSinToCos: config.FlipSinToCos)
            : new Timesteps(ch[0], config.FlipSinToCos, config.FreqShift);

        _downBlocks = new ModuleList<DownBlock1D>();
        long output = config.InChannels;
        for (var i = 0; i < ch.Count; i++)
        {
            var input = output + (i == 0 ? config.ExtraInChannels : 0);
            output = ch[i];
            _downBlocks.Add(new DownBlock1D($"down_blocks.{i}", config.DownBlockTypes[i], input, output, device));
        }
        if (config.HasMidBlock) _midBlock = new UNetMidBlock1D("mid_block", ch[^1], device);

        _upBlocks = new ModuleList<UpBlock1D>();
        var reversed = ch.Reverse().ToArray();
        output = reversed[0];
        for (var i = 0; i < ch.Count; i++)
        {
            var prevOutput = output;
            output = i < ch.Count - 1 ? reversed[i + 1] : config.OutChannels;
            _upBlocks.Add(new UpBlock1D($"up_blocks.{i}", config.UpBlockTypes[i], prevOutput, output, device));
        }
        RegisterComponents();
    }

    /// <summary>The architecture this model was built from.</summary>
    public UNet1DConfig Config { get; }

    IDenoiserConfig IDenoiser.Config => Config;

    /// <inheritdoc />
    public nn.Module Module => this;

    /// <inheritdoc />
    public Device Device => _downBlocks.parameters().First().device;

    /// <summary>The <see cref="IDenoiser"/> call; the model takes no condition (<see cref="NoCondition"/> only).</summary>
    /// <exception cref="ArgumentException">Shapes do not fit, or a condition is given.</exception>
    public Tensor Forward(Tensor sample, Tensor timestep, Condition condition) => condition switch
    {
        NoCondition => Run(sample, timestep, null),
        null => throw new ArgumentNullException(nameof(condition)),
        _ => throw new ArgumentException($"UNet1DModel takes no {condition.Kind} condition (diffusers' 1-D blocks have no class or text input)", nameof(condition)),
    };

    /// <summary>Predicts the model output for a batch.</summary>
    /// <param name="sample">[B, in_channels, L] float32; L divisible by 2^<see cref="UNet1DConfig.Downsamplings"/>.</param>
    /// <param name="timestep">[B], [1] or a scalar (broadcast to B), float (Dance Diffusion: t in [0, 1]) or int64.</param>
    /// <returns>[B, out_channels, L] float32, a fresh tensor.</returns>
    /// <exception cref="ArgumentException">Shapes do not fit the model.</exception>
    public override Tensor forward(Tensor sample, Tensor timestep) => Run(sample, timestep, null);

    /// <summary>
    /// Runs the model and records the outputs of its top-level modules into <paramref name="intermediates"/>, keyed like the golden files:
    /// <c>time_proj</c> ([B', E]), <c>down_blocks.i</c>, <c>mid_block</c>, <c>up_blocks.i</c>. The caller owns the recorded tensors.
    /// </summary>
    public Tensor Trace(Tensor sample, Tensor timestep, IDictionary<string, Tensor> intermediates)
    {
        ArgumentNullException.ThrowIfNull(intermediates);
        return Run(sample, timestep, (name, t) => intermediates[name] = t.detach().DetachFromDisposeScope());
    }

    private Tensor Run(Tensor sample, Tensor timestep, Action<string, Tensor>? observe)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(timestep);
        if (sample.dim() != 3 || sample.shape[1] != Config.InChannels)
        {
            throw new ArgumentException($"sample must be [B, {Config.InChannels}, L], got [{string.Join(", ", sample.shape)}]", nameof(sample));
        }
        var (batch, length) = (sample.shape[0], sample.shape[2]);
        var factor = 1L << Config.Downsamplings;
        if (length % factor != 0 || length / factor < 4)
        {
            throw new ArgumentException($"sample length {length} must be a multiple of {factor} (2^{Config.Downsamplings} halvings) with at least 4 samples at the lowest resolution", nameof(sample));
        }
        var t = timestep.dim() == 0 ? timestep.reshape(1) : timestep;
        if (t.dim() != 1 || (t.shape[0] != 1 && t.shape[0] != batch))
        {
            throw new ArgumentException($"timestep must be a scalar, [1] or [{batch}], got [{string.Join(", ", timestep.shape)}]", nameof(timestep));
        }
        using var scope = NewDisposeScope();

        // 1. time: project, repeat along the length, broadcast over the batch ([B, E, L])
        var proj = _timeProj.call(t.to(sample.device));
        observe?.Invoke("time_proj", proj);
        var temb = proj.unsqueeze(-1).expand(-1, -1, length).to_type(sample.dtype).expand(batch, -1, -1);

        // 2. down: every block's output is the skip of its level
        var hidden = sample;
        var skips = new List<Tensor>();
        for (var i = 0; i < _downBlocks.Count; i++)
        {
            hidden = _downBlocks[i].Forward(hidden, temb);
            skips.Add(hidden);
            observe?.Invoke($"down_blocks.{i}", hidden);
        }

        // 3. mid
        if (_midBlock is not null)
        {
            hidden = _midBlock.call(hidden);
            observe?.Invoke("mid_block", hidden);
        }

        // 4. up, consuming the skips from the lowest level
        for (var i = 0; i < _upBlocks.Count; i++)
        {
            hidden = _upBlocks[i].Forward(hidden, skips[^(i + 1)]);
            observe?.Invoke($"up_blocks.{i}", hidden);
        }
        return hidden.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public long FlopsPerSample(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (sampleShape.Count != 2) throw new ArgumentException($"a UNet1DModel sample is [C, L], got [{string.Join(", ", sampleShape)}]", nameof(sampleShape));
        long length = sampleShape[1], flops = 0, channels = Config.InChannels + Config.ExtraInChannels;
        for (var i = 0; i < _downBlocks.Count; i++)
        {
            var r = _downBlocks[i].Flops(channels, length);
            (flops, length, channels) = (flops + r.Flops, r.Length, Config.BlockOutChannels[i]);
        }
        if (_midBlock is not null) flops += _midBlock.Flops(length);
        for (var i = 0; i < _upBlocks.Count; i++)
        {
            var outChannels = i < _upBlocks.Count - 1 ? Config.BlockOutChannels[^(i + 2)] : Config.OutChannels;
            var r = _upBlocks[i].Flops(outChannels, length);
            (flops, length) = (flops + r.Flops, r.Length);
        }
        return flops;
    }

    /// <inheritdoc />
    public IDenoiser CreateEmpty(Device? device = null) => new UNet1DModel(Config, device ?? Device);

    /// <summary>
    /// Loads a diffusers UNet1DModel folder (<c>config.json</c> + <c>diffusion_pytorch_model.safetensors</c>, or a pipeline folder holding
    /// them under <c>unet/</c>). Strict: every missing, unexpected or wrong-shape weight is reported in one error before any is copied.
    /// Returned in eval mode on <paramref name="device"/> (null = CPU).
    /// </summary>
    /// <exception cref="InvalidInputException">Missing files, a bad config, or weights that do not match it.</exception>
    public static UNet1DModel FromPretrained(string folder, Device? device = null)
    {
        var (configPath, weightsPath) = PretrainedWeights.ResolveFolder(folder);
        var config = UNet1DConfig.Load(configPath);
        var header = SafetensorsFile.ReadHeader(weightsPath);
        using (var shapes = new UNet1DModel(config, new Device(TorchSharp.DeviceType.META)))
            PretrainedWeights.Check(shapes, header, configPath, renameLegacyAttention: false);
        var model = new UNet1DModel(config, device);
        try
        {
            PretrainedWeights.LoadInto(model, header, configPath, renameLegacyAttention: false);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes <c>config.json</c> and <c>diffusion_pytorch_model.safetensors</c> into <paramref name="folder"/>, each atomically.</summary>
    public void SavePretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, UNet2DModel.WeightsFileName), state_dict());
        AtomicFile.WriteAllText(Path.Combine(folder, UNet2DModel.ConfigFileName), Config.ToJson());
    }
}
