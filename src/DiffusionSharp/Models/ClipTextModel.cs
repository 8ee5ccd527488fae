using DiffusionSharp.IO;
using DiffusionSharp.Models.Clip;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// A TorchSharp port of transformers' <c>CLIPTextModel</c>, the text encoder of Stable Diffusion: token + position
/// embeddings, N pre-norm transformer layers with a causal mask, a final LayerNorm, and the pooled row at the
/// end-of-text token. Parameter names equal transformers' <c>state_dict</c> keys
/// (<c>text_model.encoder.layers.0.self_attn.q_proj.weight</c>, ...), so a <c>text_encoder/</c> folder loads directly.
/// It is an ordinary trainable module: parameters require gradients, and dropout follows <c>train()</c>/<c>eval()</c>.
/// </summary>
public sealed class ClipTextModel : nn.Module<Tensor, Tensor?, ClipTextOutput>
{
    /// <summary>File name of the config in a transformers model folder.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>File name of the weights in a transformers model folder.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>Checkpoints from older transformers versions store this buffer; it is <c>arange(L)</c> and is not loaded.</summary>
    public const string LegacyPositionIdsKey = "text_model.embeddings.position_ids";

    [ComponentName(Name = "text_model")] private readonly ClipTextTransformer _textModel;

    /// <summary>Builds a model initialised like transformers' <c>_init_weights</c> (normal weights of CLIP's stds, zero biases, unit LayerNorms).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Parameter device; null = the CPU; <c>torch.META</c> for a shape-only model.</param>
    /// <param name="generator">CPU generator for the initial weights; null = a generator seeded 0, so two models built alike are equal.</param>
    /// <exception cref="InvalidInputException">The config is invalid.</exception>
    public ClipTextModel(ClipTextConfig config, Device? device = null, Generator? generator = null) : base(nameof(ClipTextModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var meta = device?.type == TorchSharp.DeviceType.META;
        using var own = generator is null && !meta ? new Generator(0) : null;
        _textModel = new ClipTextTransformer(config, device, meta ? null : generator ?? own);
        RegisterComponents();
    }

    /// <summary>The architecture this model was built from.</summary>
    public ClipTextConfig Config { get; }

    /// <summary>The device of the parameters.</summary>
    public Device Device => _textModel.Device;

    /// <summary>Encodes token rows (transformers' <c>CLIPTextModel.forward</c> without hidden states).</summary>
    /// <param name="inputIds">int64 <c>[B, L]</c>, L at most <c>max_position_embeddings</c>.</param>
    /// <param name="attentionMask">Optional <c>[B, L]</c>, 1 = attend, 0 = padding (Stable Diffusion passes none).</param>
    /// <returns>Fresh tensors; the inputs are neither modified nor disposed.</returns>
    /// <exception cref="ArgumentException">Shapes or ids do not fit the model.</exception>
    public override ClipTextOutput forward(Tensor inputIds, Tensor? attentionMask) => Encode(inputIds, attentionMask, outputHiddenStates: false);

    /// <summary>Same as <see cref="forward"/>, optionally also returning every layer's hidden states (for <c>clip_skip</c>).</summary>
    public ClipTextOutput Encode(Tensor inputIds, Tensor? attentionMask = null, bool outputHiddenStates = false)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        if (inputIds.dim() != 2) throw new ArgumentException($"input_ids must be [B, L], got [{string.Join(", ", inputIds.shape)}]", nameof(inputIds));
        if (attentionMask is not null && !attentionMask.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException($"attention_mask must be [{string.Join(", ", inputIds.shape)}], got [{string.Join(", ", attentionMask.shape)}]", nameof(attentionMask));
        using var scope = NewDisposeScope();
        var ids = inputIds.to(ScalarType.Int64, Device);
        CheckIds(ids);
        var hidden = _textModel.Embeddings.call(ids);
        var mask = AdditiveMask(ids.shape[1], attentionMask, hidden.dtype);
        var states = new List<Tensor>();
        if (outputHiddenStates) states.Add(hidden);
        foreach (var layer in _textModel.Layers)
        {
            hidden = layer.call(hidden, mask);
            if (outputHiddenStates) states.Add(hidden);
        }
        var last = _textModel.FinalLayerNorm.call(hidden);
        var pooled = last[arange(ids.shape[0], ScalarType.Int64, Device), PoolingIndex(ids)];
        foreach (var s in states) s.MoveToOuterDisposeScope();
        return new ClipTextOutput(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), states);
    }

    /// <summary>
    /// The final LayerNorm alone, for <c>clip_skip</c>: diffusers feeds the U-Net <c>FinalLayerNorm(HiddenStates[^(skip + 1)])</c>.
    /// </summary>
    /// <param name="hidden">float <c>[B, L, D]</c>.</param>
    /// <returns>float <c>[B, L, D]</c>, a fresh tensor.</returns>
    public Tensor FinalLayerNorm(Tensor hidden) => _textModel.FinalLayerNorm.call(hidden);

    /// <summary>
    /// The position pooled per row: with the legacy <c>eos_token_id</c> 2 the largest id (<c>argmax(input_ids)</c>, the first
    /// <c>&lt;|endoftext|&gt;</c> of tokenizer rows), otherwise the first position of <c>eos_token_id</c> (0 when absent).
    /// </summary>
    /// <param name="inputIds">int64 <c>[B, L]</c>.</param>
    /// <returns>int64 <c>[B]</c>.</returns>
    public Tensor PoolingIndex(Tensor inputIds)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        return Config.EosTokenId == 2 ? inputIds.argmax(-1) : inputIds.eq(Config.EosTokenId).to_type(ScalarType.Int32).argmax(-1);
    }

    /// <summary>Loads a transformers folder (<c>config.json</c> + <c>model.safetensors</c>), or a pipeline folder holding it under <c>text_encoder/</c>.</summary>
    /// <remarks>F16/BF16/F64 weights become float32; an old checkpoint's <c>position_ids</c> buffer is ignored. Strict: every missing,
    /// unexpected or wrong-shape weight is reported in one error before any weight is copied. Returned in eval mode.</remarks>
    /// <exception cref="InvalidInputException">Missing files, a pickle checkpoint, a bad config, or weights that do not match it.</exception>
    public static ClipTextModel FromPretrained(string folder, Device? device = null)
    {
        var (configPath, weightsPath) = ResolveFolder(folder);
        var config = ClipTextConfig.Load(configPath);
        var header = SafetensorsFile.ReadHeader(weightsPath);
        using (var shapes = new ClipTextModel(config, new Device(TorchSharp.DeviceType.META)))
            PretrainedWeights.Check(shapes, header, configPath);
        var model = new ClipTextModel(config, device);
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

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> (float32) into <paramref name="folder"/>, each atomically.</summary>
    public void SavePretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, WeightsFileName), state_dict());
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFileName), Config.ToJson());
    }

    /// <summary>The folder itself or its <c>text_encoder/</c> sub-folder; the config path and the weights path.</summary>
    /// <exception cref="InvalidInputException">The folder, its config or its safetensors weights are missing.</exception>
    public static (string ConfigPath, string WeightsPath) ResolveFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"{folder}: model folder not found");
        var dir = !File.Exists(Path.Combine(folder, ConfigFileName)) && File.Exists(Path.Combine(folder, "text_encoder", ConfigFileName))
            ? Path.Combine(folder, "text_encoder")
            : folder;
        var configPath = Path.Combine(dir, ConfigFileName);
        if (!File.Exists(configPath))
            throw new InvalidInputException($"{folder}: no {ConfigFileName} (nor text_encoder/{ConfigFileName}); expected a transformers CLIPTextModel folder");
        var weightsPath = Path.Combine(dir, WeightsFileName);
        if (!File.Exists(weightsPath))
        {
            var pickle = Path.Combine(dir, "pytorch_model.bin");
            if (File.Exists(pickle)) SafetensorsFile.RejectPickle(pickle);
            throw new InvalidInputException($"{dir}: weights file {WeightsFileName} not found");
        }
        return (configPath, weightsPath);
    }

    private void CheckIds(Tensor ids)
    {
        if (ids.numel() == 0) return;
        var min = ids.min().item<long>();
        var max = ids.max().item<long>();
        if (min < 0 || max >= Config.VocabSize)
            throw new ArgumentException($"input_ids must lie in 0..{Config.VocabSize - 1}, found {(min < 0 ? min : max)}", "inputIds");
    }

    /// <summary>
    /// [B or 1, 1, L, L] additive mask: 0 where a query may attend (key at or before it, and not padding), float32 min elsewhere,
    /// as transformers' causal and padding masks; a fully masked row stays finite (uniform) instead of NaN.
    /// </summary>
    private Tensor AdditiveMask(long length, Tensor? attentionMask, ScalarType dtype)
    {
        var allowed = ones(length, length, ScalarType.Bool, Device).tril();
        if (attentionMask is not null)
        {
            var keys = attentionMask.to(Device).ne(0).view(-1, 1, 1, length);
            allowed = allowed.view(1, 1, length, length).logical_and(keys);
        }
        else
        {
            allowed = allowed.view(1, 1, length, length);
        }
        return zeros(allowed.shape, dtype, Device).masked_fill(allowed.logical_not(), float.MinValue);
    }
}
