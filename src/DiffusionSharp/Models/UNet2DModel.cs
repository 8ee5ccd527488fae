using DiffusionSharp.Conditioning;
using DiffusionSharp.IO;
using DiffusionSharp.Models.Blocks;
using DiffusionSharp.Models.Embeddings;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models;

/// <summary>
/// A TorchSharp port of Hugging Face diffusers' (0.30.3) <c>UNet2DModel</c>: same architecture, same numbers, and parameter names equal
/// to diffusers' <c>state_dict</c> keys (e.g. <c>down_blocks.1.attentions.0.to_q.weight</c>), so diffusers folders load directly.
/// The model predicts whatever it was trained to predict (noise, x0 or v); it knows nothing of noise schedules.
/// </summary>
public sealed class UNet2DModel : nn.Module<Tensor, Tensor, Tensor?, Tensor>, IDenoiser
{
    /// <summary>File name of the config in a diffusers model folder.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>File name of the weights in a diffusers model folder.</summary>
    public const string WeightsFileName = "diffusion_pytorch_model.safetensors";

    [ComponentName(Name = "conv_in")] private readonly Conv2d _convIn;
    [ComponentName(Name = "time_proj")] private readonly nn.Module<Tensor, Tensor> _timeProj;
    [ComponentName(Name = "time_embedding")] private readonly TimestepEmbedding _timeEmbedding;
    [ComponentName(Name = "class_embedding")] private readonly nn.Module<Tensor, Tensor>? _classEmbedding;
    [ComponentName(Name = "down_blocks")] private readonly ModuleList<DownBlock2D> _downBlocks;
    [ComponentName(Name = "mid_block")] private readonly UNetMidBlock2D? _midBlock;
    [ComponentName(Name = "up_blocks")] private readonly ModuleList<UpBlock2D> _upBlocks;
    [ComponentName(Name = "conv_norm_out")] private readonly GroupNorm _convNormOut;
    [ComponentName(Name = "conv_out")] private readonly Conv2d _convOut;

    /// <summary>Builds a randomly initialised model (PyTorch's default init, as diffusers).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Parameter device; <c>null</c> = CPU. Use <c>torch.META</c> for a shape-only model (no memory).</param>
    /// <exception cref="InvalidInputException">The config is invalid (e.g. norm_num_groups does not divide a layer's channels).</exception>
    public UNet2DModel(UNet2DConfig config, Device? device = null) : base(nameof(UNet2DModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var ch = config.BlockOutChannels;
        long c0 = ch[0];
        long tembDim = config.TimeEmbedDim;

        _convIn = Layers.Conv3x3(config.InChannels, c0, device);
        long timeInputDim;
        if (config.TimeEmbeddingType == TimeEmbeddingType.Fourier)
        {
            _timeProj = new GaussianFourierProjection(c0, 16.0, device);
            timeInputDim = 2 * c0;
        }
        else
        {
            _timeProj = new Timesteps(c0, config.FlipSinToCos, config.FreqShift);
            timeInputDim = c0;
        }
        _timeEmbedding = new TimestepEmbedding("time_embedding", timeInputDim, tembDim, device);
        _classEmbedding = config.ClassEmbedType switch
        {
            ClassEmbedType.Timestep => new TimestepEmbedding("class_embedding", timeInputDim, tembDim, device),
            ClassEmbedType.Identity => nn.Identity(),
            _ when config.NumClassEmbeds is int n => nn.Embedding(n, tembDim, device: device),
            _ => null,
        };

        var s = new ResnetSettings(tembDim, config.NormEps, config.NormNumGroups, config.Dropout, config.ResnetTimeScaleShift, device);
        var levels = ch.Count;
        _downBlocks = new ModuleList<DownBlock2D>();
        long output = c0;
        for (var i = 0; i < levels; i++)
        {
            var input = output;
            output = ch[i];
            _downBlocks.Add(new DownBlock2D($"down_blocks.{i}", config.DownBlockTypes[i], input, output, config.LayersPerBlock,
                addDownsample: i < levels - 1, s, config.AttentionHeadDim ?? output, config.DownsamplePadding, config.DownsampleType));
        }

        if (config.MidBlockType == MidBlockType.UNetMidBlock2D)
        {
            _midBlock = new UNetMidBlock2D("mid_block", ch[^1], s, config.AttentionHeadDim ?? ch[^1], config.AttnNormNumGroups,
                config.AddAttention, config.MidBlockScaleFactor);
        }

        _upBlocks = new ModuleList<UpBlock2D>();
        var reversed = ch.Reverse().ToArray();
        output = reversed[0];
        for (var i = 0; i < levels; i++)
        {
            var prevOutput = output;
            output = reversed[i];
            var input = reversed[Math.Min(i + 1, levels - 1)];
            _upBlocks.Add(new UpBlock2D($"up_blocks.{i}", config.UpBlockTypes[i], input, prevOutput, output, config.LayersPerBlock + 1,
                addUpsample: i < levels - 1, s, config.AttentionHeadDim ?? output, config.UpsampleType));
        }

        _convNormOut = Layers.GroupNorm(c0, config.NormNumGroups, config.NormEps, "conv_norm_out", device);
        _convOut = Layers.Conv3x3(c0, config.OutChannels, device);
        RegisterComponents();
    }

    /// <summary>
    /// Whether the convolution weights are stored channels-last (NHWC strides, [B, C, H, W] shape) and every input is
    /// turned channels-last on entry, so oneDNN's convolutions need no layout reorders (<see cref="UseChannelsLast"/>).
    /// The output is returned in the standard contiguous layout either way; the numbers agree up to float reassociation.
    /// </summary>
    public bool ChannelsLast { get; private set; }

    /// <summary>
    /// Activation recomputation per ResNet, attention and upsampling layer of every down/mid/up block while training
    /// (<see cref="ActivationCheckpoint"/>): backward keeps only each layer's inputs and re-runs the layer, so a step
    /// holds one layer's activations at a time instead of all of them, for about one more forward pass. The loss and
    /// gradients are those of the plain run; no effect under no_grad. Layers rather than whole blocks: each recomputed
    /// function has one output, so none can be left without a gradient (see <see cref="ActivationCheckpoint"/>).
    /// </summary>
    public bool CheckpointActivations
    {
        get => _checkpointActivations;
        set
        {
            _checkpointActivations = value;
            foreach (var block in _downBlocks) block.CheckpointLayers = value;
            if (_midBlock is not null) _midBlock.CheckpointLayers = value;
            foreach (var block in _upBlocks) block.CheckpointLayers = value;
        }
    }

    private bool _checkpointActivations;

    /// <summary>
    /// Stores every 4-D weight channels-last (in place: the parameters stay the same objects, so an optimizer made
    /// before or after sees them) and from now on runs the network channels-last. Weights saved or copied out are
    /// unchanged in value.
    /// </summary>
    public void UseChannelsLast()
    {
        using var _ = no_grad();
        foreach (var p in parameters())
        {
            if (p.dim() == 4) p.set_(Layers.ToChannelsLast(p));
        }
        ChannelsLast = true;
    }

    /// <summary>The architecture this model was built from.</summary>
    public UNet2DConfig Config { get; }

    IDenoiserConfig IDenoiser.Config => Config;

    /// <inheritdoc />
    public nn.Module Module => this;

    /// <inheritdoc />
    public Device Device => _convIn.weight!.device;

    /// <summary>
    /// The <see cref="IDenoiser"/> call: <see cref="NoCondition"/> for an unconditional model, a
    /// <see cref="ClassLabelCondition"/> (its labels as <c>class_labels</c>) for a class-conditional one.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes do not fit, or the condition is of a kind this model does not take.</exception>
    public Tensor Forward(Tensor sample, Tensor timestep, Condition condition) => condition switch
    {
        NoCondition => Run(sample, timestep, null, null),
        ClassLabelCondition c => Run(sample, timestep, c.Labels, null),
        null => throw new ArgumentNullException(nameof(condition)),
        _ => throw new ArgumentException($"UNet2DModel takes no {condition.Kind} condition (class labels or none)", nameof(condition)),
    };

    /// <inheritdoc />
    public long FlopsPerSample(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (sampleShape.Count != 3) throw new ArgumentException($"a UNet2DModel sample is [C, H, W], got [{string.Join(", ", sampleShape)}]", nameof(sampleShape));
        return FlopsPerImage(sampleShape[1], sampleShape[2]);
    }

    /// <inheritdoc />
    public IDenoiser CreateEmpty(Device? device = null) => new UNet2DModel(Config, device ?? Device);

    /// <summary>Predicts the model output (noise, x0 or v, as trained) for a batch.</summary>
    /// <param name="sample">[B, in_channels, H, W] float32; H and W divisible by 2^(levels-1).</param>
    /// <param name="timestep">[B] or a scalar (broadcast to B), float or int64.</param>
    /// <param name="classLabels">[B] int64 labels for num_class_embeds models (or embeddings for "identity", timesteps for "timestep"); null otherwise.</param>
    /// <returns>[B, out_channels, H, W] float32, a fresh tensor (the inputs are not modified or disposed).</returns>
    /// <exception cref="ArgumentException">Shapes or class labels do not fit the model.</exception>
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor? classLabels) => Run(sample, timestep, classLabels, null);

    /// <summary>Same as <see cref="forward(Tensor, Tensor, Tensor?)"/> without class labels.</summary>
    public Tensor forward(Tensor sample, Tensor timestep) => Run(sample, timestep, null, null);

    /// <summary>
    /// Runs the model and also records the outputs of its top-level modules into <paramref name="intermediates"/>, keyed like the golden
    /// files: <c>time_proj</c>, <c>time_embedding</c>, <c>class_embedding</c>, <c>conv_in</c>, <c>down_blocks.i</c>, <c>mid_block</c>,
    /// <c>up_blocks.i</c>, <c>conv_norm_out</c> (before the SiLU), <c>conv_out</c>. The caller owns the recorded tensors.
    /// </summary>
    public Tensor Trace(Tensor sample, Tensor timestep, Tensor? classLabels, IDictionary<string, Tensor> intermediates)
    {
        ArgumentNullException.ThrowIfNull(intermediates);
        return Run(sample, timestep, classLabels, (name, t) => intermediates[name] = t.detach().DetachFromDisposeScope());
    }

    private Tensor Run(Tensor sample, Tensor timestep, Tensor? classLabels, Action<string, Tensor>? observe)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(timestep);
        if (sample.dim() != 4 || sample.shape[1] != Config.InChannels)
        {
            throw new ArgumentException($"sample must be [B, {Config.InChannels}, H, W], got [{string.Join(", ", sample.shape)}]", nameof(sample));
        }
        var batch = sample.shape[0];
        using var scope = NewDisposeScope();

        // 0. center input if necessary
        if (Config.CenterInputSample) sample = sample * 2 - 1.0;
        if (ChannelsLast) sample = Layers.ToChannelsLast(sample);

        // 1. time: broadcast to the batch, project, embed
        var timesteps = BroadcastTimesteps(timestep, batch, sample.device);
        var tEmb = _timeProj.call(timesteps).to_type(_convIn.weight!.dtype);
        observe?.Invoke("time_proj", tEmb);
        var emb = _timeEmbedding.call(tEmb);
        observe?.Invoke("time_embedding", emb);

        if (_classEmbedding is not null)
        {
            if (classLabels is null) throw new ArgumentException("this model is class-conditional: class labels are required", nameof(classLabels));
            var labels = classLabels.to(sample.device);
            if (Config.ClassEmbedType == ClassEmbedType.Timestep) labels = _timeProj.call(labels);
            else if (Config.ClassEmbedType == ClassEmbedType.None && labels.dtype != ScalarType.Int64) labels = labels.to_type(ScalarType.Int64);
            var classEmb = _classEmbedding.call(labels).to_type(emb.dtype);
            observe?.Invoke("class_embedding", classEmb);
            emb = emb + classEmb;
        }
        else if (classLabels is not null)
        {
            throw new ArgumentException("this model has no class embedding (num_class_embeds / class_embed_type unset): pass no class labels", nameof(classLabels));
        }

        // 2. pre-process
        var hidden = _convIn.call(sample);
        observe?.Invoke("conv_in", hidden);

        // 3. down: every resnet/attention output and every downsampled map is a skip connection
        var skips = new List<Tensor> { hidden };
        for (var i = 0; i < _downBlocks.Count; i++)
        {
            hidden = _downBlocks[i].Forward(hidden, emb, skips);
            observe?.Invoke($"down_blocks.{i}", hidden);
        }

        // 4. mid
        if (_midBlock is not null)
        {
            hidden = _midBlock.call(hidden, emb);
            observe?.Invoke("mid_block", hidden);
        }

        // 5. up
        for (var i = 0; i < _upBlocks.Count; i++)
        {
            hidden = _upBlocks[i].Forward(hidden, skips, emb);
            observe?.Invoke($"up_blocks.{i}", hidden);
        }

        // 6. post-process
        hidden = _convNormOut.call(hidden);
        observe?.Invoke("conv_norm_out", hidden);
        hidden = _convOut.call(F.silu(hidden));
        if (Config.TimeEmbeddingType == TimeEmbeddingType.Fourier)
        {
            hidden = hidden / timesteps.to_type(hidden.dtype).reshape(batch, 1, 1, 1);
        }
        observe?.Invoke("conv_out", hidden);
        if (ChannelsLast) hidden = hidden.contiguous();
        return hidden.MoveToOuterDisposeScope();
    }

    private static Tensor BroadcastTimesteps(Tensor timestep, long batch, Device device)
    {
        var t = timestep.dim() == 0 ? timestep.reshape(1) : timestep;
        if (t.dim() != 1 || (t.shape[0] != 1 && t.shape[0] != batch))
        {
            throw new ArgumentException($"timestep must be a scalar, [1] or [{batch}], got [{string.Join(", ", timestep.shape)}]", nameof(timestep));
        }
        t = t.to(device);
        return t.shape[0] == batch ? t : t.expand(batch);
    }

    /// <summary>Forward FLOPs (2 x multiply-adds of convs, linears and attention matmuls) for one H x W image.</summary>
    public long FlopsPerImage(int height, int width)
    {
        long h = height, w = width;
        var flops = Layers.ConvFlops(Config.InChannels, Config.BlockOutChannels[0], 3, h, w) + _timeEmbedding.Flops();
        if (_classEmbedding is TimestepEmbedding te) flops += te.Flops();
        foreach (var block in _downBlocks)
        {
            var r = block.Flops(h, w);
            (flops, h, w) = (flops + r.Flops, r.Height, r.Width);
        }
        if (_midBlock is not null) flops += _midBlock.Flops(h, w);
        foreach (var block in _upBlocks)
        {
            var r = block.Flops(h, w);
            (flops, h, w) = (flops + r.Flops, r.Height, r.Width);
        }
        return flops + Layers.ConvFlops(Config.BlockOutChannels[0], Config.OutChannels, 3, h, w);
    }

    /// <summary>
    /// Loads a diffusers model folder: <c>config.json</c> + <c>diffusion_pytorch_model.safetensors</c>, or a pipeline folder holding
    /// them under <c>unet/</c>. F16/BF16/F64 weights become float32; legacy attention names (<c>query</c>, <c>key</c>, <c>value</c>,
    /// <c>proj_attn</c>) are renamed as diffusers does. Strict: every missing, unexpected or wrong-shape weight is reported in one
    /// error, before any weight is copied. The model is returned in eval mode on <paramref name="device"/> (null = the CPU).
    /// </summary>
    /// <exception cref="InvalidInputException">Missing files, a pickle checkpoint, a bad config, or weights that do not match it.</exception>
    public static UNet2DModel FromPretrained(string folder, Device? device = null)
    {
        var (configPath, weightsPath) = PretrainedWeights.ResolveFolder(folder);
        var config = UNet2DConfig.Load(configPath);
        var header = SafetensorsFile.ReadHeader(weightsPath);
        // Match names and shapes on a shape-only (meta device) model first: a config asking for more or bigger weights
        // than the file holds is refused before any parameter memory is allocated.
        using (var shapes = new UNet2DModel(config, new Device(TorchSharp.DeviceType.META)))
            PretrainedWeights.Check(shapes, header, configPath);
        var model = new UNet2DModel(config, device);
        try
        {
            PretrainedWeights.LoadInto(model, header, configPath);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes <c>config.json</c> and <c>diffusion_pytorch_model.safetensors</c> (float32 as stored) into <paramref name="folder"/>, each atomically.</summary>
    public void SavePretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, WeightsFileName), state_dict());
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFileName), Config.ToJson());
    }
}
