using DiffusionSharp.Conditioning;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// The architecture of a <see cref="TextConditionedUNet"/>: a <see cref="UNet2DConditionConfig"/> and the
/// <see cref="ClipTextConfig"/> of the text encoder trained with it. It has no <c>config.json</c> of its own: a pipeline
/// folder holds the two as <c>unet/config.json</c> and <c>text_encoder/config.json</c>.
/// </summary>
/// <param name="Unet">The denoiser; its <c>cross_attention_dim</c> must equal the text encoder's width.</param>
/// <param name="TextEncoder">The CLIP text model.</param>
public sealed record TextConditionedUNetConfig(UNet2DConditionConfig Unet, ClipTextConfig TextEncoder) : IDenoiserConfig
{
    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the pairing (text width vs cross_attention_dim).</summary>
    public const string TextEncoderProperty = "TextConditionedUNetConfig.TextEncoder";

    /// <summary>The U-Net's class: what <c>model_index.json</c> names for <c>unet</c>.</summary>
    public string ClassName => UNet2DConditionConfig.ClassName;

    /// <inheritdoc />
    public int InChannels => Unet.InChannels;

    /// <inheritdoc />
    public int OutChannels => Unet.OutChannels;

    /// <inheritdoc />
    public IReadOnlyList<int>? SampleShape => Unet.SampleShape;

    /// <summary>Always <see cref="ConditionKind.Tokens"/>: the batch brings token ids, the network encodes them.</summary>
    public ConditionKind Conditioning => ConditionKind.Tokens;

    /// <inheritdoc />
    public int NumClasses => 0;

    /// <summary>The U-Net's <c>config.json</c> (the text encoder's is <see cref="ClipTextConfig.ToJson"/>).</summary>
    public string ToJson() => Unet.ToJson();

    /// <inheritdoc />
    public IDenoiser Build(Device? device = null) => new TextConditionedUNet(this, device);

    /// <summary>Checks both configs and that they fit each other.</summary>
    /// <exception cref="InvalidInputException">An invalid config; a text width other than <c>cross_attention_dim</c>; a class-conditional U-Net.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Unet);
        ArgumentNullException.ThrowIfNull(TextEncoder);
        TextEncoder.Validate();
        if (TextEncoder.HiddenSize != Unet.CrossAttentionDim)
            throw new InvalidInputException(
                $"TextEncoder: hidden_size {TextEncoder.HiddenSize} does not match the U-Net's cross_attention_dim {Unet.CrossAttentionDim}; the U-Net attends to the text encoder's hidden states", TextEncoderProperty);
        if (Unet.IsClassConditional)
            throw new InvalidInputException("TextEncoder: a text-conditioned U-Net trained with its text encoder takes no class labels (num_class_embeds must be null)", TextEncoderProperty);
    }
}
