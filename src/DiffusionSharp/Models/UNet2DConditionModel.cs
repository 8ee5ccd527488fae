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
/// A TorchSharp port of diffusers' (0.30.3) <c>UNet2DConditionModel</c>, the Stable Diffusion 1.x/2.x denoiser: a UNet whose
/// Transformer2DModel blocks attend to a sequence of embeddings (<c>encoder_hidden_states</c>, e.g. CLIP text states). Same
/// numbers and parameter names as diffusers' <c>state_dict</c> (e.g. <c>down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k.weight</c>),
/// so diffusers folders load directly. It knows nothing of noise schedules.
/// </summary>
public sealed class UNet2DConditionModel : nn.Module<Tensor, Tensor, Tensor, Tensor>, IDenoiser
{
    /// <summary>Context length <see cref="FlopsPerSample"/> counts the cross-attention for: CLIP's 77 tokens, as Stable Diffusion uses.</summary>
    public const int DefaultContextLength = 77;

    /// <summary>diffusers' bias for a masked key: <c>(1 - mask) * -10000</c> is added to the attention scores.</summary>
    private const double MaskedKeyBias = -10000.0;

    [ComponentName(Name = "conv_in")] private readonly Conv2d _convIn;
    [ComponentName(Name = "time_proj")] private readonly Timesteps _timeProj;
    [ComponentName(Name = "time_embedding")] private readonly TimestepEmbedding _timeEmbedding;
    [ComponentName(Name = "class_embedding")] private readonly Embedding? _classEmbedding;
    [ComponentName(Name = "down_blocks")] private readonly ModuleList<nn.Module> _downBlocks;
    [ComponentName(Name = "mid_block")] private readonly UNetMidBlock2DCrossAttn? _midBlock;
    [ComponentName(Name = "up_blocks")] private readonly ModuleList<nn.Module> _upBlocks;
    [ComponentName(Name = "conv_norm_out")] private readonly GroupNorm _convNormOut;
    [ComponentName(Name = "conv_out")] private readonly Conv2d _convOut;

    /// <summary>Builds a randomly initialised model (PyTorch's default init, as diffusers).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Parameter device; <c>null</c> = CPU. Use <c>torch.META</c> for a shape-only model (no memory).</param>
    /// <exception cref="InvalidInputException">The config is invalid (e.g. norm_num_groups does not divide a layer's channels).</exception>
    public UNet2DConditionModel(UNet2DConditionConfig config, Device? device = null) : base(nameof(UNet2DConditionModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var ch = config.BlockOutChannels;
        long c0 = ch[0];
        long tembDim = config.TimeEmbedDim;
        var levels = ch.Count;

        _convIn = nn.Conv2d(config.InChannels, c0, config.ConvInKernel, padding: (config.ConvInKernel - 1) / 2, device: device);
        _timeProj = new Timesteps(c0, config.FlipSinToCos, config.FreqShift);
        _timeEmbedding = new TimestepEmbedding("time_embedding", c0, tembDim, device);
        if (config.NumClassEmbeds is int n) _classEmbedding = nn.Embedding(n, tembDim, device: device);

        var s = new ResnetSettings(tembDim, config.NormEps, config.NormNumGroups, config.Dropout, config.ResnetTimeScaleShift, device);
        TransformerSettings AtLevel(int level) => new(config.HeadsAt(level), config.TransformerLayersAt(level), config.CrossAttentionDim,
            config.NormNumGroups, config.UseLinearProjection);

        _downBlocks = new ModuleList<nn.Module>();
        long output = c0;
        for (var i = 0; i < levels; i++)
        {
            var input = output;
            output = ch[i];
            var path = $"down_blocks.{i}";
            var addDownsample = i < levels - 1;
            _downBlocks.Add(config.DownBlockTypes[i] == CrossAttnDownBlockType.CrossAttnDownBlock2D
                ? new CrossAttnDownBlock2D(path, input, output, config.LayersPerBlock, addDownsample, s, AtLevel(i), config.DownsamplePadding)
                : new DownBlock2D(path, DownBlockType.DownBlock2D, input, output, config.LayersPerBlock, addDownsample, s, output,
                    config.DownsamplePadding, ResampleType.Conv));
        }

        if (config.MidBlockType == CrossAttnMidBlockType.UNetMidBlock2DCrossAttn)
            _midBlock = new UNetMidBlock2DCrossAttn("mid_block", ch[^1], s, AtLevel(levels - 1), config.MidBlockScaleFactor);

        _upBlocks = new ModuleList<nn.Module>();
        var reversed = ch.Reverse().ToArray();
        output = reversed[0];
        for (var i = 0; i < levels; i++)
        {
            var prevOutput = output;
            output = reversed[i];
            var input = reversed[Math.Min(i + 1, levels - 1)];
            var path = $"up_blocks.{i}";
            var addUpsample = i < levels - 1;
            // diffusers reverses the per-level head and depth lists for the decoder: up block i sits at level (levels - 1 - i).
            _upBlocks.Add(config.UpBlockTypes[i] == CrossAttnUpBlockType.CrossAttnUpBlock2D
                ? new CrossAttnUpBlock2D(path, input, prevOutput, output, config.LayersPerBlock + 1, addUpsample, s, AtLevel(levels - 1 - i))
                : new UpBlock2D(path, UpBlockType.UpBlock2D, input, prevOutput, output, config.LayersPerBlock + 1, addUpsample, s, output,
                    ResampleType.Conv));
        }

        _convNormOut = Layers.GroupNorm(c0, config.NormNumGroups, config.NormEps, "conv_norm_out", device);
        _convOut = nn.Conv2d(c0, config.OutChannels, config.ConvOutKernel, padding: (config.ConvOutKernel - 1) / 2, device: device);
        RegisterComponents();
    }

    /// <summary>The architecture this model was built from.</summary>
    public UNet2DConditionConfig Config { get; }

    IDenoiserConfig IDenoiser.Config => Config;

    /// <inheritdoc />
    public nn.Module Module => this;

    /// <inheritdoc />
    public Device Device => _convIn.weight!.device;

    /// <summary>
    /// The <see cref="IDenoiser"/> call: an <see cref="EmbeddingCondition"/> gives <c>encoder_hidden_states</c> (its
    /// <see cref="EmbeddingCondition.Hidden"/>) and <c>encoder_attention_mask</c> (its <see cref="EmbeddingCondition.Mask"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Shapes do not fit, the condition is of another kind, or the model also needs class labels
    /// (a <see cref="Condition"/> cannot carry embeddings and labels together yet: call <see cref="forward(Tensor, Tensor, Tensor, Tensor?, Tensor?)"/>).</exception>
    public Tensor Forward(Tensor sample, Tensor timestep, Condition condition) => condition switch
    {
        null => throw new ArgumentNullException(nameof(condition)),
        EmbeddingCondition _ when Config.IsClassConditional => throw new ArgumentException(
            "this UNet2DConditionModel also takes class labels (num_class_embeds), which a condition cannot carry beside embeddings yet", nameof(condition)),
        EmbeddingCondition e => Run(sample, timestep, e.Hidden, e.Mask, null, null),
        _ => throw new ArgumentException($"UNet2DConditionModel takes an embedding condition (encoder_hidden_states), not {condition.Kind}", nameof(condition)),
    };

    /// <summary>Predicts the model output (noise, x0 or v, as trained) for a batch.</summary>
    /// <param name="sample">[B, in_channels, H, W] float32; H and W divisible by 2^(levels-1).</param>
    /// <param name="timestep">[B] or a scalar (broadcast to B), float or int64.</param>
    /// <param name="encoderHiddenStates">[B, L, cross_attention_dim] float32.</param>
    /// <returns>[B, out_channels, H, W] float32, a fresh tensor (the inputs are not modified or disposed).</returns>
    /// <exception cref="ArgumentException">Shapes do not fit the model.</exception>
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates) =>
        Run(sample, timestep, encoderHiddenStates, null, null, null);

    /// <summary>As <see cref="forward(Tensor, Tensor, Tensor)"/>, with diffusers' optional inputs.</summary>
    /// <param name="sample">[B, in_channels, H, W].</param>
    /// <param name="timestep">[B] or a scalar.</param>
    /// <param name="encoderHiddenStates">[B, L, cross_attention_dim].</param>
    /// <param name="encoderAttentionMask">[B, L], 1 = attend, 0 = padding (any numeric dtype), or null.</param>
    /// <param name="classLabels">[B] int64 labels for a num_class_embeds model; null otherwise.</param>
    public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor? encoderAttentionMask, Tensor? classLabels) =>
        Run(sample, timestep, encoderHiddenStates, encoderAttentionMask, classLabels, null);

    /// <summary>
    /// Runs the model and also records the outputs of its top-level modules into <paramref name="intermediates"/>, keyed like the golden
    /// files: <c>time_proj</c>, <c>time_embedding</c>, <c>class_embedding</c>, <c>conv_in</c>, <c>down_blocks.i</c>, <c>mid_block</c>,
    /// <c>up_blocks.i</c>, <c>conv_norm_out</c> (before the SiLU), <c>conv_out</c>. The caller owns the recorded tensors.
    /// </summary>
    public Tensor Trace(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, Tensor? encoderAttentionMask, Tensor? classLabels,
        IDictionary<string, Tensor> intermediates)
    {
        ArgumentNullException.ThrowIfNull(intermediates);
        return Run(sample, timestep, encoderHiddenStates, encoderAttentionMask, classLabels,
            (name, t) => intermediates[name] = t.detach().DetachFromDisposeScope());
    }

    private Tensor Run(Tensor sample, Tensor timestep, Tensor context, Tensor? mask, Tensor? classLabels, Action<string, Tensor>? observe)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(timestep);
        ArgumentNullException.ThrowIfNull(context);
        CheckShapes(sample, context, mask);
        var batch = sample.shape[0];
        using var scope = NewDisposeScope();
        var device = sample.device;
        var dtype = _convIn.weight!.dtype;
        context = context.to(device).to_type(dtype);

        // 0. the key mask as an additive bias [B, 1, L] (diffusers' encoder_attention_mask conversion)
        Tensor? maskBias = mask is null ? null : ((1 - mask.to(device).to_type(dtype)) * MaskedKeyBias).unsqueeze(1);

        // 1. center input if necessary
        if (Config.CenterInputSample) sample = sample * 2 - 1.0;

        // 2. time: broadcast to the batch, project, embed; plus the class embedding
        var t = timestep.dim() == 0 ? timestep.reshape(1) : timestep;
        if (t.dim() != 1 || (t.shape[0] != 1 && t.shape[0] != batch))
            throw new ArgumentException($"timestep must be a scalar, [1] or [{batch}], got [{string.Join(", ", timestep.shape)}]", nameof(timestep));
        t = t.to(device);
        if (t.shape[0] != batch) t = t.expand(batch);
        var tEmb = _timeProj.call(t).to_type(dtype);
        observe?.Invoke("time_proj", tEmb);
        var emb = _timeEmbedding.call(tEmb);
        observe?.Invoke("time_embedding", emb);
        if (_classEmbedding is not null)
        {
            if (classLabels is null) throw new ArgumentException("this model is class-conditional (num_class_embeds): class labels are required", nameof(classLabels));
            if (classLabels.dim() != 1 || classLabels.shape[0] != batch)
                throw new ArgumentException($"class labels must be [{batch}], got [{string.Join(", ", classLabels.shape)}]", nameof(classLabels));
            var classEmb = _classEmbedding.call(classLabels.to(device).to_type(ScalarType.Int64)).to_type(dtype);
            observe?.Invoke("class_embedding", classEmb);
            emb = emb + classEmb;
        }
        else if (classLabels is not null)
        {
            throw new ArgumentException("this model has no class embedding (num_class_embeds unset): pass no class labels", nameof(classLabels));
        }

        // 3. pre-process
        var hidden = _convIn.call(sample);
        observe?.Invoke("conv_in", hidden);

        // 4. down: every resnet/attention output and every downsampled map is a skip connection
        var skips = new List<Tensor> { hidden };
        for (var i = 0; i < _downBlocks.Count; i++)
        {
            hidden = _downBlocks[i] switch
            {
                CrossAttnDownBlock2D cross => cross.Forward(hidden, emb, context, maskBias, skips),
                DownBlock2D plain => plain.Forward(hidden, emb, skips),
                var other => throw new InvalidOperationException($"unexpected down block {other.GetType().Name}"),
            };
            observe?.Invoke($"down_blocks.{i}", hidden);
        }

        // 5. mid
        if (_midBlock is not null)
        {
            hidden = _midBlock.Forward(hidden, emb, context, maskBias);
            observe?.Invoke("mid_block", hidden);
        }

        // 6. up
        for (var i = 0; i < _upBlocks.Count; i++)
        {
            hidden = _upBlocks[i] switch
            {
                CrossAttnUpBlock2D cross => cross.Forward(hidden, skips, emb, context, maskBias),
                UpBlock2D plain => plain.Forward(hidden, skips, emb),
                var other => throw new InvalidOperationException($"unexpected up block {other.GetType().Name}"),
            };
            observe?.Invoke($"up_blocks.{i}", hidden);
        }

        // 7. post-process
        hidden = _convNormOut.call(hidden);
        observe?.Invoke("conv_norm_out", hidden);
        hidden = _convOut.call(F.silu(hidden));
        observe?.Invoke("conv_out", hidden);
        return hidden.MoveToOuterDisposeScope();
    }

    private void CheckShapes(Tensor sample, Tensor context, Tensor? mask)
    {
        static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
        if (sample.dim() != 4 || sample.shape[1] != Config.InChannels)
            throw new ArgumentException($"sample must be [B, {Config.InChannels}, H, W], got {Shape(sample)}", nameof(sample));
        var factor = 1L << (Config.BlockOutChannels.Count - 1);
        if (sample.shape[2] % factor != 0 || sample.shape[3] % factor != 0)
            throw new ArgumentException($"sample height and width must be multiples of {factor} (2^(levels-1)), got {Shape(sample)}", nameof(sample));
        var b = sample.shape[0];
        if (context.dim() != 3 || context.shape[0] != b || context.shape[2] != Config.CrossAttentionDim)
            throw new ArgumentException($"encoder_hidden_states must be [{b}, L, {Config.CrossAttentionDim}] (cross_attention_dim), got {Shape(context)}", nameof(context));
        if (mask is not null && (mask.dim() != 2 || mask.shape[0] != b || mask.shape[1] != context.shape[1]))
            throw new ArgumentException($"encoder_attention_mask must be [{b}, {context.shape[1]}], got {Shape(mask)}", nameof(mask));
    }

    /// <inheritdoc />
    /// <remarks>The cross-attention is counted for <see cref="DefaultContextLength"/> context tokens.</remarks>
    public long FlopsPerSample(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (sampleShape.Count != 3) throw new ArgumentException($"a UNet2DConditionModel sample is [C, H, W], got [{string.Join(", ", sampleShape)}]", nameof(sampleShape));
        return FlopsPerImage(sampleShape[1], sampleShape[2], DefaultContextLength);
    }

    /// <summary>
    /// Forward FLOPs (2 x multiply-adds of convs, linears and attention matmuls: self-attention over the H' x W' pixels of each
    /// level, cross-attention to <paramref name="contextLength"/> tokens) for one H x W sample.
    /// </summary>
    public long FlopsPerImage(int height, int width, int contextLength)
    {
        long h = height, w = width, l = contextLength;
        var c = Config.BlockOutChannels;
        var flops = Layers.ConvFlops(Config.InChannels, c[0], Config.ConvInKernel, h, w) + _timeEmbedding.Flops();
        foreach (var block in _downBlocks)
        {
            var r = block switch
            {
                CrossAttnDownBlock2D cross => cross.Flops(h, w, l),
                DownBlock2D plain => plain.Flops(h, w),
                _ => throw new InvalidOperationException("unexpected down block"),
            };
            (flops, h, w) = (flops + r.Flops, r.Height, r.Width);
        }
        if (_midBlock is not null) flops += _midBlock.Flops(h, w, l);
        foreach (var block in _upBlocks)
        {
            var r = block switch
            {
                CrossAttnUpBlock2D cross => cross.Flops(h, w, l),
                UpBlock2D plain => plain.Flops(h, w),
                _ => throw new InvalidOperationException("unexpected up block"),
            };
            (flops, h, w) = (flops + r.Flops, r.Height, r.Width);
        }
        return flops + Layers.ConvFlops(c[0], Config.OutChannels, Config.ConvOutKernel, h, w);
    }

    /// <inheritdoc />
    public IDenoiser CreateEmpty(Device? device = null) => new UNet2DConditionModel(Config, device ?? Device);

    /// <summary>
    /// Loads a diffusers model folder: <c>config.json</c> + <c>diffusion_pytorch_model.safetensors</c>, or a pipeline folder holding
    /// them under <c>unet/</c>. F16/BF16/F64 weights become float32. Strict: every missing, unexpected or wrong-shape weight is
    /// reported in one error, before any weight is copied. The model is returned in eval mode on <paramref name="device"/> (null = CPU).
    /// </summary>
    /// <exception cref="InvalidInputException">Missing files, a bad config, or weights that do not match it.</exception>
    public static UNet2DConditionModel FromPretrained(string folder, Device? device = null)
    {
        var (configPath, weightsPath) = PretrainedWeights.ResolveFolder(folder);
        var config = UNet2DConditionConfig.Load(configPath);
        var header = SafetensorsFile.ReadHeader(weightsPath);
        // Names and shapes are matched on a shape-only model first, so a config that asks for more than the file holds
        // is refused before any parameter memory is allocated (SD-sized models are 3.4 GB in float32).
        using (var shapes = new UNet2DConditionModel(config, new Device(TorchSharp.DeviceType.META)))
            PretrainedWeights.Check(shapes, header, configPath);
        var model = new UNet2DConditionModel(config, device);
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
        SafetensorsFile.Save(Path.Combine(folder, UNet2DModel.WeightsFileName), state_dict());
        AtomicFile.WriteAllText(Path.Combine(folder, UNet2DModel.ConfigFileName), Config.ToJson());
    }
}
