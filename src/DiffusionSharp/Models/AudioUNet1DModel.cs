using DiffusionSharp.Conditioning;
using DiffusionSharp.IO;
using DiffusionSharp.Models.Blocks;
using DiffusionSharp.Models.Blocks1D;
using DiffusionSharp.Models.Embeddings;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models;

/// <summary>
/// DiffusionSharp's own class-conditional waveform U-Net over <c>[B, C, L]</c> (diffusers' <c>UNet1DModel</c> takes no class labels):
/// sinusoidal timestep features and an MLP (diffusers' <c>Timesteps</c> + <c>TimestepEmbedding</c>), plus a learned class embedding
/// (the last class is the null class of classifier-free guidance), added into every 1-D ResNet block (GroupNorm, SiLU, kernel-3
/// convolutions; with <c>resnet_time_scale_shift</c> "scale_shift" the embedding scales and shifts its second GroupNorm instead). Each level shrinks the length by 2 or 4 with a strided convolution; self-attention where the config asks and in the
/// mid block. Discrete (int64) or continuous timesteps, as the formulation draws them.
/// </summary>
public sealed class AudioUNet1DModel : nn.Module<Tensor, Tensor, Tensor?, Tensor>, IDenoiser
{
    [ComponentName(Name = "time_proj")] private readonly Timesteps _timeProj;
    [ComponentName(Name = "time_embedding")] private readonly TimestepEmbedding _timeEmbedding;
    [ComponentName(Name = "class_embedding")] private readonly Embedding? _classEmbedding;
    [ComponentName(Name = "conv_in")] private readonly Conv1d _convIn;
    [ComponentName(Name = "down_blocks")] private readonly ModuleList<AudioLevel1D> _downBlocks;
    [ComponentName(Name = "mid_block")] private readonly AudioLevel1D _midBlock;
    [ComponentName(Name = "up_blocks")] private readonly ModuleList<AudioLevel1D> _upBlocks;
    [ComponentName(Name = "conv_norm_out")] private readonly GroupNorm _convNormOut;
    [ComponentName(Name = "conv_out")] private readonly Conv1d _convOut;

    /// <summary>Kernel of <c>conv_in</c>: a wider first look at the waveform (7 samples) than the blocks' 3.</summary>
    private const int InputKernel = 7;

    /// <summary>Builds a randomly initialised model (PyTorch's default init).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Parameter device; null = CPU; <c>meta</c> = shapes only.</param>
    /// <exception cref="InvalidInputException">The config is invalid.</exception>
    public AudioUNet1DModel(AudioUNet1DConfig config, Device? device = null) : base(nameof(AudioUNet1DModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var ch = config.BlockOutChannels;
        var (temb, groups, levels) = (config.TimeEmbedDim, config.NormNumGroups, ch.Count);
        var scaleShift = config.ResnetTimeScaleShift == ResnetTimeScaleShift.ScaleShift;
        _timeProj = new Timesteps(ch[0], flipSinToCos: true, freqShift: 0);
        _timeEmbedding = new TimestepEmbedding("time_embedding", ch[0], temb, device);
        if (config.NumClassEmbeds is int classes) _classEmbedding = nn.Embedding(classes, temb, device: device);
        _convIn = nn.Conv1d(config.InChannels * config.PatchSize, ch[0], InputKernel, padding: InputKernel / 2, device: device);

        _downBlocks = new ModuleList<AudioLevel1D>();
        for (var i = 0; i < levels; i++)
        {
            _downBlocks.Add(AudioLevel1D.Down($"down_blocks.{i}", i == 0 ? ch[0] : ch[i - 1], ch[i], config.LayersPerBlock, temb, groups,
                config.AttentionLevels[i], i < levels - 1 ? config.DownFactors[i] : 1, device, scaleShift));
        }
        _midBlock = AudioLevel1D.Down("mid_block", ch[^1], ch[^1], 2, temb, groups, attention: true, factor: 1, device, scaleShift);
        _upBlocks = new ModuleList<AudioLevel1D>();
        for (var u = 0; u < levels; u++)
        {
            // up_blocks.u works at level i = levels - 1 - u, upsampling what the level below produced.
            var i = levels - 1 - u;
            var input = u == 0 ? ch[^1] : ch[i + 1];
            _upBlocks.Add(AudioLevel1D.Up($"up_blocks.{u}", input, ch[i], config.LayersPerBlock, temb, groups,
                config.AttentionLevels[i], i < levels - 1 ? config.DownFactors[i] : 1, device, scaleShift));
        }
        _convNormOut = Layers.GroupNorm(ch[0], groups, 1e-5, "conv_norm_out", device);
        _convOut = nn.Conv1d(ch[0], config.OutChannels * config.PatchSize, 3, padding: 1, device: device);
        RegisterComponents();
    }

    /// <summary>The architecture this model was built from.</summary>
    public AudioUNet1DConfig Config { get; }

    IDenoiserConfig IDenoiser.Config => Config;

    /// <inheritdoc />
    public nn.Module Module => this;

    /// <inheritdoc />
    public Device Device => _convIn.weight!.device;

    /// <summary>The <see cref="IDenoiser"/> call: <see cref="NoCondition"/> for an unconditional model, a <see cref="ClassLabelCondition"/> for a class-conditional one.</summary>
    /// <exception cref="ArgumentException">Shapes do not fit, or the condition is of a kind this model does not take.</exception>
    public Tensor Forward(Tensor sample, Tensor timestep, Condition condition) => condition switch
    {
        NoCondition => forward(sample, timestep, null),
        ClassLabelCondition c => forward(sample, timestep, c.Labels),
        null => throw new ArgumentNullException(nameof(condition)),
        _ => throw new ArgumentException($"{AudioUNet1DConfig.ClassName} takes no {condition.Kind} condition (class labels or none)", nameof(condition)),
    };

    /// <summary>Predicts the model output for a batch.</summary>
    /// <param name="sample">[B, in_channels, L] float32; L a multiple of <see cref="AudioUNet1DConfig.Downsampling"/>.</param>
    /// <param name="timestep">[B], [1] or a scalar (broadcast to B), int64 or float.</param>
    /// <param name="classLabels">[B] int64 in [0, num_class_embeds) for a class-conditional model; null otherwise.</param>
    /// <returns>[B, out_channels, L] float32, a fresh tensor.</returns>
    /// <exception cref="ArgumentException">Shapes or labels do not fit the model.</exception>
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor? classLabels)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(timestep);
        if (sample.dim() != 3 || sample.shape[1] != Config.InChannels)
            throw new ArgumentException($"sample must be [B, {Config.InChannels}, L], got [{string.Join(", ", sample.shape)}]", nameof(sample));
        var (batch, length) = (sample.shape[0], sample.shape[2]);
        if (length < Config.Downsampling || length % Config.Downsampling != 0)
            throw new ArgumentException($"sample length {length} must be a positive multiple of {Config.Downsampling} ({Config.DownsamplingText})", nameof(sample));
        var t = timestep.dim() == 0 ? timestep.reshape(1) : timestep;
        if (t.dim() != 1 || (t.shape[0] != 1 && t.shape[0] != batch))
            throw new ArgumentException($"timestep must be a scalar, [1] or [{batch}], got [{string.Join(", ", timestep.shape)}]", nameof(timestep));
        if (_classEmbedding is null && classLabels is not null)
            throw new ArgumentException("this model is unconditional: it takes no class labels", nameof(classLabels));
        if (_classEmbedding is not null && classLabels is null)
            throw new ArgumentException("this model is class-conditional: class labels are required", nameof(classLabels));
        using var scope = NewDisposeScope();

        // 1. time (and class) embedding [B, T]
        var emb = _timeEmbedding.call(_timeProj.call(t.to(sample.device)).to_type(sample.dtype)).expand(batch, -1);
        if (_classEmbedding is not null)
        {
            var labels = classLabels!.to(sample.device);
            if (labels.dim() != 1 || labels.shape[0] != batch)
                throw new ArgumentException($"class labels must be [{batch}], got [{string.Join(", ", labels.shape)}]", nameof(classLabels));
            emb = emb + _classEmbedding.call(labels.to_type(ScalarType.Int64)).to_type(emb.dtype);
        }

        // 2. down: each level's resnet output is the skip the up path meets at that length
        var hidden = _convIn.call(ToPatches(sample, Config.PatchSize));
        var skips = new List<Tensor>();
        foreach (var level in _downBlocks)
        {
            var (skip, output) = level.Down(hidden, emb);
            skips.Add(skip);
            hidden = output;
        }

        // 3. mid, 4. up from the lowest level
        hidden = _midBlock.Down(hidden, emb).Output;
        for (var u = 0; u < _upBlocks.Count; u++) hidden = _upBlocks[u].Up(hidden, skips[^(u + 1)], emb);

        // 5. out
        return FromPatches(_convOut.call(F.silu(_convNormOut.call(hidden))), Config.PatchSize).MoveToOuterDisposeScope();
    }

    /// <summary>[B, C, L] to [B, C·P, L/P]: channel c·P + j of frame n is sample n·P + j of channel c.</summary>
    public static Tensor ToPatches(Tensor x, int patch)
    {
        if (patch == 1) return x;
        var (b, c, l) = (x.shape[0], x.shape[1], x.shape[2]);
        return x.reshape(b, c, l / patch, patch).permute(0, 1, 3, 2).reshape(b, c * patch, l / patch);
    }

    /// <summary>The inverse of <see cref="ToPatches"/>: [B, C·P, L/P] to [B, C, L].</summary>
    public static Tensor FromPatches(Tensor x, int patch)
    {
        if (patch == 1) return x;
        var (b, cp, n) = (x.shape[0], x.shape[1], x.shape[2]);
        return x.reshape(b, cp / patch, patch, n).permute(0, 1, 3, 2).reshape(b, cp / patch, n * patch);
    }

    /// <inheritdoc />
    public long FlopsPerSample(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (sampleShape.Count != 2) throw new ArgumentException($"a {AudioUNet1DConfig.ClassName} sample is [C, L], got [{string.Join(", ", sampleShape)}]", nameof(sampleShape));
        var ch = Config.BlockOutChannels;
        long length = sampleShape[1] / Config.PatchSize;
        long flops = _timeEmbedding.Flops() + 2L * Config.InChannels * Config.PatchSize * ch[0] * InputKernel * length
            + 2L * ch[0] * Config.OutChannels * Config.PatchSize * 3 * length;
        var lengths = new long[ch.Count];
        for (var i = 0; i < ch.Count; i++)
        {
            lengths[i] = length;
            flops += _downBlocks[i].Flops(length);
            if (i < ch.Count - 1) length /= Config.DownFactors[i];
        }
        flops += _midBlock.Flops(length);
        for (var u = 0; u < _upBlocks.Count; u++) flops += _upBlocks[u].Flops(lengths[^(u + 1)]);
        return flops;
    }

    /// <inheritdoc />
    public IDenoiser CreateEmpty(Device? device = null) => new AudioUNet1DModel(Config, device ?? Device);

    /// <summary>
    /// Loads a folder written by <see cref="SavePretrained"/> (<c>config.json</c> + <c>diffusion_pytorch_model.safetensors</c>, or a
    /// pipeline folder holding them under <c>unet/</c>). Strict: every missing, unexpected or wrong-shape weight is reported in one error.
    /// Returned in eval mode on <paramref name="device"/> (null = CPU).
    /// </summary>
    /// <exception cref="InvalidInputException">Missing files, a bad config, or weights that do not match it.</exception>
    public static AudioUNet1DModel FromPretrained(string folder, Device? device = null)
    {
        var (configPath, weightsPath) = PretrainedWeights.ResolveFolder(folder);
        var config = AudioUNet1DConfig.Load(configPath);
        var header = SafetensorsFile.ReadHeader(weightsPath);
        using (var shapes = new AudioUNet1DModel(config, new Device(TorchSharp.DeviceType.META)))
            PretrainedWeights.Check(shapes, header, configPath, renameLegacyAttention: false);
        var model = new AudioUNet1DModel(config, device);
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
