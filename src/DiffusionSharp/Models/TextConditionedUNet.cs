using DiffusionSharp.Conditioning;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// A <see cref="UNet2DConditionModel"/> and the <see cref="ClipTextModel"/> that feeds it, trained together from scratch as
/// one <see cref="IDenoiser"/>: the batch brings token ids (<see cref="TokenCondition"/>), the text model turns them into
/// <c>encoder_hidden_states</c> (<c>last_hidden_state</c>, no attention mask, as Stable Diffusion) and the U-Net attends to
/// them. Both sit in one module (<c>unet.*</c>, <c>text_encoder.*</c>), so the optimizer, the EMA copy and the gradient
/// clipping see every weight of both.
/// </summary>
/// <remarks>
/// On disk the two are the <c>unet/</c> and <c>text_encoder/</c> components of a Stable Diffusion pipeline folder, in
/// diffusers' and transformers' own layouts: <see cref="SavePretrained"/> writes the U-Net's folder (the
/// <see cref="IDenoiser"/> contract), <see cref="SaveTextEncoder"/> the text model's.
/// </remarks>
public sealed class TextConditionedUNet : nn.Module, IDenoiser
{
    [ComponentName(Name = "unet")] private readonly UNet2DConditionModel _unet;
    [ComponentName(Name = "text_encoder")] private readonly ClipTextModel _textEncoder;

    /// <summary>A fresh pair: the U-Net with TorchSharp's default init (the global generator), the text model from <paramref name="textGenerator"/>.</summary>
    /// <param name="config">The two architectures; validated here.</param>
    /// <param name="device">Parameter device; null = the CPU.</param>
    /// <param name="textGenerator">CPU generator of the text model's init (transformers' init); null = seeded 0.</param>
    /// <exception cref="InvalidInputException">An invalid config, or one whose text width is not the U-Net's cross_attention_dim.</exception>
    public TextConditionedUNet(TextConditionedUNetConfig config, Device? device = null, Generator? textGenerator = null)
        : this(config, new UNet2DConditionModel(Checked(config).Unet, device), new ClipTextModel(config.TextEncoder, device, textGenerator))
    {
    }

    private TextConditionedUNet(TextConditionedUNetConfig config, UNet2DConditionModel unet, ClipTextModel textEncoder) : base(nameof(TextConditionedUNet))
    {
        Config = config;
        _unet = unet;
        _textEncoder = textEncoder;
        RegisterComponents();
    }

    /// <summary>The two architectures.</summary>
    public TextConditionedUNetConfig Config { get; }

    IDenoiserConfig IDenoiser.Config => Config;

    /// <summary>The denoiser.</summary>
    public UNet2DConditionModel Unet => _unet;

    /// <summary>The text encoder.</summary>
    public ClipTextModel TextEncoder => _textEncoder;

    /// <inheritdoc />
    public nn.Module Module => this;

    /// <inheritdoc />
    public Device Device => _unet.Device;

    /// <summary>The U-Net's output for token rows: <c>unet(sample, t, text_encoder(ids).last_hidden_state)</c>.</summary>
    /// <exception cref="ArgumentException">The condition is not a <see cref="TokenCondition"/>, or shapes do not fit.</exception>
    public Tensor Forward(Tensor sample, Tensor timestep, Condition condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        if (condition is not TokenCondition tokens)
            throw new ArgumentException($"a text-conditioned U-Net with its own text encoder takes token ids (a token condition), not {condition.Kind}", nameof(condition));
        using var scope = NewDisposeScope();
        var hidden = EncodeIds(tokens.InputIds);
        return _unet.forward(sample, timestep, hidden).MoveToOuterDisposeScope();
    }

    /// <summary>The text encoder's <c>last_hidden_state</c> <c>[B, L, D]</c> for token rows <c>[B, L]</c> (gradients flow in training mode).</summary>
    public Tensor EncodeIds(Tensor inputIds)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        var output = _textEncoder.forward(inputIds, null);
        output.PoolerOutput.Dispose();
        return output.LastHiddenState;
    }

    /// <inheritdoc />
    /// <remarks>The U-Net's FLOPs (cross-attention to 77 tokens) plus the text encoder's for one 77-token row.</remarks>
    public long FlopsPerSample(IReadOnlyList<int> sampleShape) => _unet.FlopsPerSample(sampleShape) + TextFlops(Config.TextEncoder);

    /// <summary>
    /// Forward FLOPs of a CLIP text model on one row of <c>max_position_embeddings</c> tokens: per layer the q, k, v and out
    /// projections (4 D²), the MLP (2 D·I) per token, and the two attention matmuls (2 L² D); embeddings are lookups.
    /// </summary>
    public static long TextFlops(ClipTextConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        long l = c.MaxPositionEmbeddings, d = c.HiddenSize, i = c.IntermediateSize;
        return c.NumHiddenLayers * 2 * (l * (4 * d * d + 2 * d * i) + 2 * l * l * d);
    }

    /// <summary>Writes the U-Net as a diffusers model folder (<c>config.json</c> + safetensors), each file atomically.</summary>
    public void SavePretrained(string folder) => _unet.SavePretrained(folder);

    /// <summary>Writes the text encoder as a transformers model folder (<c>config.json</c> + <c>model.safetensors</c>), each file atomically.</summary>
    public void SaveTextEncoder(string folder) => _textEncoder.SavePretrained(folder);

    /// <summary>Loads a pair from a U-Net folder and a text-encoder folder (strictly, each with its own loader), in eval mode.</summary>
    /// <exception cref="InvalidInputException">A missing or malformed folder, or a text width other than the U-Net's cross_attention_dim.</exception>
    public static TextConditionedUNet FromPretrained(string unetFolder, string textEncoderFolder, Device? device = null)
    {
        var unet = UNet2DConditionModel.FromPretrained(unetFolder, device);
        ClipTextModel? text = null;
        try
        {
            text = ClipTextModel.FromPretrained(textEncoderFolder, device);
            var config = Checked(new TextConditionedUNetConfig(unet.Config, text.Config));
            var model = new TextConditionedUNet(config, unet, text);
            model.eval();
            return model;
        }
        catch
        {
            unet.Dispose();
            text?.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public IDenoiser CreateEmpty(Device? device = null) => new TextConditionedUNet(Config, device ?? Device);

    private static TextConditionedUNetConfig Checked(TextConditionedUNetConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return config;
    }
}
